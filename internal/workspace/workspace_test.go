package workspace

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestHostTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"svc-1:9300", []string{"svc-1"}},
		{"http://git-3:8866/x", []string{"git-3"}},
		{"redis://kv-1", []string{"kv-1"}},
		{"postgres://u:p@db-1:5432/app?sslmode=disable", []string{"db-1"}},
		{"git-1:80,git-2:80; git-3", []string{"git-1", "git-2", "git-3"}},
		{"git-10", []string{"git-10"}},
		{"host=db-1 port=5432", []string{"db-1"}},
		{"[::1]:80", []string{"::1"}},
		{"[fe80::1]:80", nil},
		{"kv-1.", []string{"kv-1"}},
		{"", nil},
	} {
		if got := hostTokens(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("hostTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFind(t *testing.T) {
	root := writeWS(t, base())
	deep := filepath.Join(root, "services", "a")
	t.Setenv(EnvVar, "")
	got, err := Find(deep)
	if err != nil || got != root {
		t.Fatalf("Find = %q, %v; want %q", got, err, root)
	}
	other := writeWS(t, base())
	t.Setenv(EnvVar, other)
	if got, err := Find(deep); err != nil || got != other {
		t.Fatalf("with $%s: Find = %q, %v; want %q", EnvVar, got, err, other)
	}
	t.Setenv(EnvVar, t.TempDir())
	if _, err := Find(deep); err == nil || !strings.Contains(err.Error(), "no clocal.yaml there") {
		t.Fatalf("err = %v", err)
	}
	t.Setenv(EnvVar, "")
	if _, err := Find(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no clocal.yaml found") {
		t.Fatalf("err = %v", err)
	}
}

func TestProjectName(t *testing.T) {
	a := ProjectName("Coding Local!", "/home/a/ws")
	b := ProjectName("Coding Local!", "/home/b/ws")
	if !regexp.MustCompile(`^coding-local-[0-9a-f]{8}$`).MatchString(a) || a == b {
		t.Errorf("ProjectName = %q, %q", a, b)
	}
	if got := ProjectName("", "/x/My_WS"); !strings.HasPrefix(got, "my_ws-") {
		t.Errorf("folder name: %q", got)
	}
	if got := ProjectName("***", "/x/y"); !strings.HasPrefix(got, "clocal-") {
		t.Errorf("empty name: %q", got)
	}
}

func fixture(t *testing.T) *Workspace {
	t.Helper()
	ws, err := Load("testdata/ws")
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestFixture(t *testing.T) {
	ws := fixture(t)
	if got, want := ws.ServiceNames(), []string{"kvstore", "mailer", "markdown", "repo-manager", "search-1", "search-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	for name, want := range map[string][]string{
		"repo-manager": {"repo-manager"}, "repo-manager-2": {"repo-manager"}, "git-3": {"repo-manager"},
		"svc-1": {"markdown", "search-1"}, "search": {"search-1", "search-2"}, "git-10": nil,
	} {
		if got := ws.Lookup(name); !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%s) = %v, want %v", name, got, want)
		}
	}
	rm := ws.Services["repo-manager"]
	if want, _ := filepath.Abs("testdata/ws/elsewhere/rm"); rm.Source != want {
		t.Errorf("source %q (clocal.local.yaml must win), want %q", rm.Source, want)
	}
	if ws.Services["kvstore"].LocalEnv["KV_DEBUG"] != "1" {
		t.Errorf("local env not applied")
	}
	if ws.Config.Log.MaxSize != "5m" || ws.Config.Log.MaxFile != 2 {
		t.Errorf("log %+v", ws.Config.Log)
	}
	if len(ws.Warnings) != 0 {
		t.Errorf("warnings (a cycle is a finding, shown by graph and validate only):\n%s", strings.Join(ws.Warnings, "\n"))
	}
	var got []string
	for _, f := range ws.Findings {
		got = append(got, string(f.Kind)+": "+f.String())
	}
	want := []string{
		"cycle: repo-manager -> markdown -> repo-manager: the edge repo-manager -> markdown (svc-1:9300 = job markdown-1 (services/repo-manager/repo-manager.job:6:3 env markdown_addr)) gives no start order",
		"replica-diff: repo-manager: repo-manager-2 (services/repo-manager/repo-manager.job:10:1) differs from repo-manager-1, which runs locally: env peers",
		"replica-diff: repo-manager: repo-manager-3 (services/repo-manager/repo-manager.job:18:1) differs from repo-manager-1, which runs locally: env peers",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s", strings.Join(got, "\n"))
	}
}

func TestResolve(t *testing.T) {
	ws := fixture(t)
	for _, tc := range []struct {
		targets           []string
		requested, closed []string
		profiles          []string
	}{
		// svc-1:9300 is markdown, not search-1 (also on svc-1, listening on 7700)
		{[]string{"dev"}, []string{"repo-manager"}, []string{"kvstore", "repo-manager", "markdown"}, []string{"dev"}},
		// markdown's env names git-1:8866: repo-manager, and the cyclic edge back still counts for the closure
		{[]string{"markdown"}, []string{"markdown"}, []string{"kvstore", "repo-manager", "markdown"}, nil},
		{[]string{"kv-1"}, []string{"kvstore"}, []string{"kvstore"}, nil},
		{[]string{"search-2"}, []string{"search-2"}, []string{"kvstore", "search-2"}, nil},
		// profile "mailer" shadows service "mailer"
		{[]string{"mailer"}, []string{"mailer", "search-2"}, []string{"kvstore", "mailer", "search-2"}, []string{"mailer"}},
	} {
		sel, err := ws.Resolve(tc.targets)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sel.Requested, tc.requested) || !reflect.DeepEqual(sel.Services, tc.closed) || !reflect.DeepEqual(sel.Profiles, tc.profiles) {
			t.Errorf("Resolve(%v) = requested %v, services %v, profiles %v; want %v, %v, %v", tc.targets, sel.Requested, sel.Services, sel.Profiles, tc.requested, tc.closed, tc.profiles)
		}
	}
	sel, _ := ws.Resolve([]string{"dev"})
	if sel.Overrides["repo-manager"].Env["LOG_LEVEL"] != "trace" {
		t.Errorf("overrides %v", sel.Overrides)
	}
	_, err := ws.Resolve([]string{"repo-manger", "dev", "nothing-like-it"})
	want := "unknown target \"repo-manger\" (did you mean \"repo-manager\"?)\nunknown target \"nothing-like-it\""
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestSplitInstancesAndJobsRoot(t *testing.T) {
	root := writeWS(t, map[string]string{
		"clocal.yaml":                 "jobs_root: prod/jobs\n",
		"prod/jobs/rm.job":            jobText("rm-1", "git-1") + jobText("rm-2", "git-2"),
		"services/rm/service.yaml":    "jobs: [rm.job]\nsplit_instances: true\n",
		"services/web/web.job":        jobText("web-1", "web-1", "backend", "http://git-2:80,git-10:1"),
		"services/web/service.yaml":   "depends_on: [git-1]\n",
		"services/git/git.job":        jobText("git-10", "git-10"),
		"services/other/service.yaml": "jobs: [\"other*.job\"]\n",
		"prod/jobs/other.job":         jobText("other-1", "o-1"),
	})
	ws, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := ws.ServiceNames(); !reflect.DeepEqual(got, []string{"git", "other", "rm-1", "rm-2", "web"}) {
		t.Errorf("services %v", got)
	}
	if got := ws.Services["rm-1"].JobFiles; !reflect.DeepEqual(got, []string{"prod/jobs/rm.job"}) {
		t.Errorf("job files %v", got)
	}
	var edges []string
	for _, e := range ws.Edges {
		edges = append(edges, e.String())
	}
	want := []string{
		"web -> git (inferred: git-10:1 = job git-10 (services/web/web.job:6:3 env backend))",
		"web -> rm-1 (declared: services/web/service.yaml:1)",
		"web -> rm-2 (inferred: http://git-2:80 = job rm-2 (services/web/web.job:6:3 env backend))",
	}
	if !reflect.DeepEqual(edges, want) {
		t.Errorf("edges:\n%s\nwant:\n%s", strings.Join(edges, "\n"), strings.Join(want, "\n"))
	}
}

func TestGraphOutputs(t *testing.T) {
	ws := fixture(t)
	g, err := ws.Graph([]string{"search-2"})
	if err != nil {
		t.Fatal(err)
	}
	var text, dot, mer bytes.Buffer
	_ = g.WriteText(&text)
	_ = g.WriteDOT(&dot)
	_ = g.WriteMermaid(&mer)
	wantText := "kvstore  jobs: kvstore-1  hosts: kv-1\n" +
		"search-2  jobs: search-2  hosts: svc-2  [target]\n" +
		"  -> kvstore  inferred  kv-1:6379 = job kvstore-1 (services/search/search.job:11:3 env kv)\n"
	if text.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), wantText)
	}
	wantDOT := "digraph clocal {\n  rankdir=LR;\n  node [shape=box];\n" +
		"  \"kvstore\" [label=\"kvstore\\nkv-1\"];\n" +
		"  \"search-2\" [label=\"search-2\\nsvc-2\", style=bold];\n" +
		"  \"search-2\" -> \"kvstore\" [label=\"kv-1:6379\", tooltip=\"kv-1:6379 = job kvstore-1 (services/search/search.job:11:3 env kv)\", style=dashed];\n}\n"
	if dot.String() != wantDOT {
		t.Errorf("dot:\n%s\nwant:\n%s", dot.String(), wantDOT)
	}
	wantMer := "flowchart LR\n  n0[\"kvstore\"]\n  n1[[\"search-2\"]]\n  n1 -.->|kv-1:6379| n0\n"
	if mer.String() != wantMer {
		t.Errorf("mermaid:\n%s\nwant:\n%s", mer.String(), wantMer)
	}
	// the whole workspace: the cyclic edge is marked
	g, _ = ws.Graph(nil)
	text.Reset()
	_ = g.WriteText(&text)
	if !strings.Contains(text.String(), "-> markdown  inferred  svc-1:9300 = job markdown-1 (services/repo-manager/repo-manager.job:6:3 env markdown_addr)  (closes a cycle: no start order)") {
		t.Errorf("whole graph:\n%s", text.String())
	}
}

func TestInsidePath(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p   string
		err string
	}{
		{"./.data/x", ""},
		{"a/../b", ""},
		{"../x", `"../x" is outside the workspace`},
		{"/etc", `"/etc" is outside the workspace`},
		{"link/x", `"link/x" leaves the workspace through a symlink`},
	} {
		_, err := InsidePath(root, root, tc.p)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("InsidePath(%q) = %v, want %q", tc.p, err, tc.err)
		}
	}
}
