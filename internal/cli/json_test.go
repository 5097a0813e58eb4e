package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// decode parses out as JSON into v, failing the test with the output when it is not.
func decode(t *testing.T, what, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: not the documented JSON: %v\n%s", what, err, out)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON document:\n%s", what, out)
	}
}

func TestGraphJSON(t *testing.T) {
	root := testutil.RepoRoot()
	for _, args := range [][]string{{"graph", "repo-manager", "--json"}, {"graph", "repo-manager", "--format", "json"}} {
		r, _, contacted := runFake(t, append([]string{"-w", root}, args...)...)
		if r.Code != 0 || *contacted {
			t.Fatalf("%v: exit %d (docker contacted: %v): %s", args, r.Code, *contacted, r.Err)
		}
		var g graphJSON
		decode(t, "graph --json", r.Out, &g)
		names := map[string]graphNodeJSON{}
		for _, n := range g.Nodes {
			names[n.Name] = n
		}
		if len(g.Nodes) != 3 || !names["repo-manager"].Requested || names["kvstore"].Requested || len(names["repo-manager"].Jobs) != 3 {
			t.Errorf("%v nodes: %+v", args, g.Nodes)
		}
		edges := map[string]graphEdgeJSON{}
		for _, e := range g.Edges {
			edges[e.From+"->"+e.To] = e
		}
		if e, ok := edges["repo-manager->markdown-renderer"]; !ok || e.Kind == "" || !strings.Contains(e.Source, "services/repo-manager/") {
			t.Errorf("%v edges: %+v", args, g.Edges)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.job")
	if err := os.WriteFile(bad, []byte("job: <\n  nmae: \"x\"\n  image: \"y\"\n>\njob: < name: \"b\" image: 3 >\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _, _ := runFake(t, "validate", "--json", bad)
	if r.Code != ExitBadInput || strings.Contains(r.Err, "clocal:") {
		t.Fatalf("validate --json of a bad file: exit %d, stderr %q (the problems are the output)", r.Code, r.Err)
	}
	var ps []Problem
	decode(t, "validate --json", r.Out, &ps)
	if len(ps) != 2 || ps[0].File != bad || ps[0].Line != 2 || ps[0].Col != 3 || !strings.Contains(ps[0].Message, `unknown field "nmae"`) ||
		ps[1].Line != 5 || ps[0].Severity != "error" {
		t.Fatalf("problems %+v", ps)
	}
	// A valid workspace: no error (notes of the model only), exit 0.
	r, _, _ = runFake(t, "-w", testutil.RepoRoot(), "validate", "--json")
	decode(t, "validate --json", r.Out, &ps)
	for _, p := range ps {
		if p.Severity != "note" {
			t.Errorf("valid workspace has problem %+v", p)
		}
	}
	if r.Code != 0 {
		t.Fatalf("validate --json of the example: exit %d", r.Code)
	}
}

func TestProblemsOf(t *testing.T) {
	err := BadInputf("%s", `C:\work\a.job:3:7: unknown field "x"
  did you mean "y"?
services/b/service.yaml:12: depends_on[0]: no service "z"
profiles/p.yaml: empty
something went wrong`)
	got := problemsOf(err)
	want := []Problem{
		{File: `C:\work\a.job`, Line: 3, Col: 7, Message: "unknown field \"x\"\ndid you mean \"y\"?", Severity: "error"},
		{File: "services/b/service.yaml", Line: 12, Message: `depends_on[0]: no service "z"`, Severity: "error"},
		{File: "profiles/p.yaml", Message: "empty", Severity: "error"},
		{Message: "something went wrong", Severity: "error"},
	}
	if len(got) != len(want) {
		t.Fatalf("problems %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestLogsPrefixesColoursAndJSON: logs prefix every line with its service's name, padded
// to the longest, in one colour per service (different services, different colours); no
// escape code without colour; --json is one object per line; secrets are masked either way.
func TestLogsPrefixesColoursAndJSON(t *testing.T) {
	root := testutil.RepoRoot()
	fake := &enginetest.Fake{LogLines: map[string][]string{
		"kvstore":           {"listening on :7700", "DB_PASSWORD=hunter2-secret"},
		"markdown-renderer": {"\x1b[32mready\x1b[0m"},
	}}
	r, _ := runWithFake(t, fake, false, "-w", root, "-p", "demo", "logs", "kvstore", "markdown-renderer")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if r.Code != 0 || len(lines) != 3 {
		t.Fatalf("logs: exit %d\n%q", r.Code, r.Out)
	}
	// Sorted service names get the palette in order: kvstore cyan, markdown-renderer yellow.
	want := []string{
		"\x1b[36mkvstore           |\x1b[0m listening on :7700",
		"\x1b[36mkvstore           |\x1b[0m DB_PASSWORD=" + redact.Mask,
		"\x1b[33mmarkdown-renderer |\x1b[0m \x1b[32mready\x1b[0m",
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
	r, _ = runWithFake(t, fake, true, "-w", root, "-p", "demo", "logs", "kvstore", "markdown-renderer")
	if strings.Contains(r.Out, "\x1b") || !strings.Contains(r.Out, "markdown-renderer | ready\n") || !strings.Contains(r.Out, "kvstore           | listening on :7700\n") {
		t.Errorf("logs without colour:\n%q", r.Out)
	}
	r, _ = runWithFake(t, fake, false, "-w", root, "-p", "demo", "logs", "--json", "kvstore", "markdown-renderer")
	var got []logJSON
	dec := json.NewDecoder(strings.NewReader(r.Out))
	dec.DisallowUnknownFields()
	for dec.More() {
		var l logJSON
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("logs --json: %v\n%s", err, r.Out)
		}
		got = append(got, l)
	}
	if strings.Count(r.Out, "\n") != 3 || len(got) != 3 || got[0].Service != "kvstore" || got[0].Container != "demo-kvstore-1" ||
		got[0].Stream != "stdout" || got[1].Line != "DB_PASSWORD="+redact.Mask || got[2].Line != "ready" {
		t.Fatalf("logs --json: %+v\n%s", got, r.Out)
	}
}

func TestDownJSON(t *testing.T) {
	r, _, _ := runFake(t, "-w", testutil.RepoRoot(), "-p", "demo", "down", "-v", "--json")
	var a actionJSON
	decode(t, "down --json", r.Out, &a)
	if r.Code != 0 || a.Project != "demo" || a.Action != "down" || !a.Volumes || a.Containers == nil {
		t.Fatalf("down --json: %d %+v", r.Code, a)
	}
}
