package stack_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func TestEnvName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"repo-manager", "REPO_MANAGER"},
		{"kvstore", "KVSTORE"},
		{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"search-1", "SEARCH_1"},
		{"svc2db", "SVC2DB"},
		{"web-0123456789", "WEB_0123456789"},
		{"0day", "0DAY"},
		{"Mixed_Case", "MIXED_CASE"},
		{"api.v2", "API_V2"},
		{"a.b-c_d", "A_B_C_D"},
		{"", ""},
		// one '_' per rune, not per byte: é is two bytes in UTF-8
		{"café", "CAF_"},
		{"naïve-svc", "NA_VE_SVC"},
		{"日本", "__"},
		// upper-casing happens before the filter: these runes have an ASCII upper case
		{"ſvc", "SVC"}, // U+017F LATIN SMALL LETTER LONG S → S
		{"ıd", "ID"},   // U+0131 LATIN SMALL LETTER DOTLESS I → I
	} {
		if got := stack.EnvName(tc.in); got != tc.want {
			t.Errorf("EnvName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	ws := stack.LoadFixture(t, nil)
	s := stack.New(ws, "", nil, nil, nil)
	if s.Name != ws.ProjectName() || !strings.HasPrefix(s.Name, "fixture-ws-") {
		t.Errorf("Name = %q, want the workspace default %q", s.Name, ws.ProjectName())
	}
	if s.Out == nil {
		t.Fatal("Out is nil: progress lines would panic")
	}
	if s.Builder == nil || s.Builder.CacheDir != filepath.Join(ws.Root, ".clocal", "cache") || stack.CacheDir(ws) != s.Builder.CacheDir {
		t.Errorf("Builder = %+v, CacheDir(ws) = %q", s.Builder, stack.CacheDir(ws))
	}
	if got, want := stack.New(ws, "named", nil, nil, io.Discard).ProjectDir(), filepath.Join(ws.Root, ".clocal", "projects", "named"); got != want {
		t.Errorf("ProjectDir = %q, want %q", got, want)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestStateRoundTrip(t *testing.T) {
	ws := stack.LoadFixture(t, nil)
	s := stack.New(ws, "proj", nil, nil, nil)
	if st, ok := s.LoadState(); ok {
		t.Fatalf("LoadState before any SaveState = %+v, true", st)
	}
	// a state folder created loosely (by an older version, or by hand) is tightened
	if err := os.MkdirAll(filepath.Join(ws.Root, ".clocal"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Add(-time.Second)
	in := stack.State{Project: "ignored", Targets: []string{"dev", "kv-1"}, Services: []string{"kvstore", "repo-manager"}, EphemeralPorts: true, BindAddress: "127.0.0.2"}
	if err := s.SaveState(in); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{
		{filepath.Join(ws.Root, ".clocal"), 0o700},
		{s.ProjectDir(), 0o700},
		{filepath.Join(s.ProjectDir(), "state.json"), 0o600},
	} {
		if got := mode(t, c.path); got != c.want {
			t.Errorf("%s: mode %o, want %o", c.path, got, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.ProjectDir(), "state.json.tmp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temp file left behind: %v", err)
	}
	got, ok := s.LoadState()
	if !ok {
		t.Fatal("LoadState after SaveState: false")
	}
	if got.Project != "proj" {
		t.Errorf("Project = %q, want the stack's name", got.Project)
	}
	if got.Updated.Before(before) || got.Updated.After(time.Now().Add(time.Second)) || got.Updated.Location() != time.UTC {
		t.Errorf("Updated = %v, want now (UTC)", got.Updated)
	}
	want := in
	want.Project, want.Updated = "proj", got.Updated
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadState = %+v, want %+v", got, want)
	}

	// another project of the same workspace has its own state
	other := stack.New(ws, "other", nil, nil, nil)
	if _, ok := other.LoadState(); ok {
		t.Error("other project sees proj's state")
	}
	if err := other.SaveState(stack.State{Targets: []string{"search-2"}}); err != nil {
		t.Fatal(err)
	}

	s.RemoveState()
	if _, err := os.Stat(s.ProjectDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveState left %s: %v", s.ProjectDir(), err)
	}
	if _, ok := s.LoadState(); ok {
		t.Error("LoadState after RemoveState: true")
	}
	if st, ok := other.LoadState(); !ok || !reflect.DeepEqual(st.Targets, []string{"search-2"}) {
		t.Errorf("RemoveState of proj removed other's state: %+v, %v", st, ok)
	}
	s.RemoveState() // twice is fine
}

func TestLoadStateCorrupt(t *testing.T) {
	for name, data := range map[string]string{
		"empty":     "",
		"truncated": `{"project": "p", "targets": ["dev"`,
		"not json":  "targets: [dev]\n",
		"bad type":  `{"targets": "dev"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ws := stack.LoadFixture(t, nil)
			s := stack.New(ws, "p", nil, nil, nil)
			if err := os.MkdirAll(s.ProjectDir(), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(s.ProjectDir(), "state.json"), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if st, ok := s.LoadState(); ok || !reflect.DeepEqual(st, stack.State{}) {
				t.Errorf("LoadState = %+v, %v; want zero, false", st, ok)
			}
			if _, _, err := s.CurrentPlan(); err == nil || !strings.Contains(err.Error(), "clocal up") {
				t.Errorf("CurrentPlan with a corrupt state: %v", err)
			}
		})
	}
}

const token = "s3cret-token-value"

func TestProjectAndPreview(t *testing.T) {
	ctx := context.Background()
	ws := stack.LoadFixture(t, map[string]string{".env": "API_TOKEN=" + token + "\n"})
	sel, err := ws.Resolve([]string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{"repo-manager": "clocal/repo-manager:0123456789ab"}
	owner := map[string]string{labels.OwnerPID: "4242", labels.OwnerHost: "box"}

	// Preview writes nothing at all.
	pv := stack.New(ws, "prev", nil, nil, nil)
	pv.Labels = owner
	pp, pplan, err := pv.Preview(ctx, sel, images)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.Root, ".clocal")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Preview created %s: %v", filepath.Join(ws.Root, ".clocal"), err)
	}

	s := stack.New(ws, "proj", nil, nil, nil)
	s.Labels = owner
	p, plan, err := s.Project(ctx, sel, images)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.ProjectDir(), "compose.yaml")
	if got := mode(t, path); got != 0o600 {
		t.Errorf("compose.yaml mode %o, want 600 (it holds env values)", got)
	}
	if got := mode(t, s.ProjectDir()); got != 0o700 {
		t.Errorf("project folder mode %o, want 700", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	yaml, _ := plan.YAML()
	if !bytes.Equal(data, yaml) {
		t.Errorf("compose.yaml is not the plan's YAML:\n%s", data)
	}
	for _, want := range []string{"API_TOKEN: " + token, "LOG_LEVEL: trace", "KV_DEBUG: \"1\"", "image: clocal/repo-manager:0123456789ab"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("compose.yaml lacks %q:\n%s", want, data)
		}
	}

	// svc-1:9300 is markdown only (search-1 listens on 7700 there): svc-1 has a router
	wantServices := []string{"kvstore", "markdown", "repo-manager", "router-svc-1"}
	for _, c := range []struct {
		what, name, want string
		services         []string
	}{{"Project", p.Name, "proj", p.ServiceNames()}, {"Preview", pp.Name, "prev", pp.ServiceNames()}} {
		sort.Strings(c.services)
		if c.name != c.want || !reflect.DeepEqual(c.services, wantServices) {
			t.Errorf("%s: project %q with %v, want %q with %v", c.what, c.name, c.services, c.want, wantServices)
		}
	}
	if !reflect.DeepEqual(plan.Services(), pplan.Services()) {
		t.Errorf("plans differ: %v vs %v", plan.Services(), pplan.Services())
	}

	for name, svc := range p.Services {
		for k, v := range owner {
			if svc.CustomLabels[k] != v {
				t.Errorf("service %s: label %s = %q, want %q", name, k, svc.CustomLabels[k], v)
			}
		}
		// compose's own labels are kept next to ours
		if svc.CustomLabels[labels.ComposeProject] != "proj" || svc.CustomLabels[labels.ComposeService] != name {
			t.Errorf("service %s: compose labels %v", name, svc.CustomLabels)
		}
		if got := svc.CustomLabels["com.docker.compose.project.config_files"]; got != path {
			t.Errorf("service %s: config_files label %q, want %q", name, got, path)
		}
		if name == "router-svc-1" {
			continue // the router has no environment
		}
		if v := svc.Environment["API_TOKEN"]; v == nil || *v != token {
			t.Errorf("service %s: API_TOKEN = %v, want the .env value", name, v)
		}
	}
	for name, svc := range pp.Services {
		if svc.CustomLabels[labels.OwnerPID] != "4242" {
			t.Errorf("Preview: service %s lacks the stack labels: %v", name, svc.CustomLabels)
		}
	}
	if got := p.Services["repo-manager"].Image; got != images["repo-manager"] {
		t.Errorf("repo-manager image %q, want %q", got, images["repo-manager"])
	}

	// A stack without Labels adds none; a Preview does not touch the written file.
	plain := stack.New(ws, "proj", nil, nil, nil)
	pp2, _, err := plain.Preview(ctx, sel, map[string]string{"repo-manager": "clocal/repo-manager:ffffffffffff"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pp2.Services["kvstore"].CustomLabels[labels.OwnerPID]; ok {
		t.Error("stack without Labels: owner label set")
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
		t.Error("Preview rewrote compose.yaml")
	}

	// A conversion error writes nothing.
	bad := stack.New(ws, "bad", nil, nil, nil)
	if _, _, err := bad.Project(ctx, &workspace.Selection{Services: []string{"nope"}}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Project of an unknown service: %v", err)
	}
	if _, err := os.Stat(bad.ProjectDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed Project created %s", bad.ProjectDir())
	}
}

// eventually polls cond every 10ms until it holds or d passed.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

type lockResult struct {
	unlock func()
	err    error
}

func lockAsync(ctx context.Context, s *stack.Stack) <-chan lockResult {
	ch := make(chan lockResult, 1)
	go func() {
		u, err := s.LockProject(ctx)
		ch <- lockResult{u, err}
	}()
	return ch
}

func TestLockProject(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("LockProject is a no-op without flock")
	}
	ws := stack.LoadFixture(t, nil)
	holder := stack.New(ws, "locked", nil, nil, nil)
	unlock, err := holder.LockProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := mode(t, filepath.Join(holder.ProjectDir(), "lock")); got != 0o600 {
		t.Errorf("lock file mode %o, want 600", got)
	}
	if got := mode(t, filepath.Join(ws.Root, ".clocal")); got != 0o700 {
		t.Errorf(".clocal mode %o, want 700", got)
	}

	// Another project of the workspace is not blocked (even with a dead ctx: a free lock is
	// taken before ctx is looked at).
	dead, cancelDead := context.WithCancel(context.Background())
	cancelDead()
	otherOut := &testutil.SyncBuffer{}
	u, err := stack.New(ws, "other", nil, nil, otherOut).LockProject(dead)
	if err != nil {
		t.Fatalf("lock of another project: %v", err)
	}
	u()
	if otherOut.String() != "" {
		t.Errorf("other project printed %q", otherOut.String())
	}

	// A second up on the same project waits, says so once, and gives up with ctx.
	out := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := lockAsync(ctx, stack.New(ws, "locked", nil, nil, out))
	const line = "waiting for another clocal up on locked\n"
	if !eventually(time.Second, func() bool { return out.String() != "" }) {
		t.Fatal("no waiting line while the lock is held")
	}
	select {
	case r := <-res:
		t.Fatalf("got the lock while it is held: %v", r.err)
	case <-time.After(450 * time.Millisecond): // two lock polls and more
	}
	cancel()
	select {
	case r := <-res:
		if !errors.Is(r.err, context.Canceled) || r.unlock != nil {
			t.Errorf("after cancel: err %v, unlock %v; want context.Canceled, nil", r.err, r.unlock != nil)
		}
	case <-time.After(time.Second):
		t.Fatal("LockProject did not return after ctx was cancelled")
	}
	if got := out.String(); got != line {
		t.Errorf("output %q, want exactly %q", got, line)
	}

	// A deadline works the same way.
	tctx, tcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer tcancel()
	if _, err := stack.New(ws, "locked", nil, nil, nil).LockProject(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with a deadline: %v", err)
	}

	// Once the holder releases it, a waiter gets the lock.
	out2 := &testutil.SyncBuffer{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	res2 := lockAsync(ctx2, stack.New(ws, "locked", nil, nil, out2))
	if !eventually(time.Second, func() bool { return out2.String() == line }) {
		t.Fatalf("waiter output %q", out2.String())
	}
	unlock()
	var r lockResult
	select {
	case r = <-res2:
		if r.err != nil {
			t.Fatalf("after release: %v", r.err)
		}
	case <-time.After(time.Second):
		t.Fatal("waiter did not get the released lock")
	}
	if got := out2.String(); got != line {
		t.Errorf("waiter output %q, want exactly %q", got, line)
	}
	// ... and now it is the waiter that holds it.
	if _, err := holder.LockProject(dead); !errors.Is(err, context.Canceled) {
		t.Errorf("lock held by the former waiter: %v", err)
	}
	r.unlock()
	u, err = holder.LockProject(dead)
	if err != nil {
		t.Fatalf("lock after every release: %v", err)
	}
	u()
}

func TestCurrentPlan(t *testing.T) {
	ws := stack.LoadFixture(t, nil)
	s := stack.New(ws, "cur", nil, nil, nil)
	// The stack's own options must not matter: CurrentPlan uses the recorded ones.
	s.Convert = convert.Options{BindAddress: "0.0.0.0"}

	_, _, err := s.CurrentPlan()
	if err == nil || !strings.Contains(err.Error(), "clocal up") || !strings.Contains(err.Error(), "cur") {
		t.Fatalf("CurrentPlan without state: %v", err)
	}

	for _, tc := range []struct {
		name      string
		state     stack.State
		services  []string
		ports     []string // published ports that must appear
		forbidden []string
	}{
		{
			name:      "ephemeral, recorded bind address",
			state:     stack.State{Targets: []string{"search-2"}, EphemeralPorts: true, BindAddress: "127.0.0.2"},
			services:  []string{"kvstore", "search-2"},
			ports:     []string{`"127.0.0.2::6379"`, `"127.0.0.2::7700"`},
			forbidden: []string{"0.0.0.0", "127.0.0.1", "6379:6379"},
		},
		{
			name:      "fixed ports, default bind address",
			state:     stack.State{Targets: []string{"kv-1"}},
			services:  []string{"kvstore"},
			ports:     []string{`"127.0.0.1:6379:6379"`},
			forbidden: []string{"0.0.0.0", "::6379", "search"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SaveState(tc.state); err != nil {
				t.Fatal(err)
			}
			plan, sel, err := s.CurrentPlan()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sel.Targets, tc.state.Targets) || !reflect.DeepEqual(sel.Services, tc.services) {
				t.Errorf("selection: targets %v services %v, want %v %v", sel.Targets, sel.Services, tc.state.Targets, tc.services)
			}
			if !reflect.DeepEqual(plan.Services(), tc.services) {
				t.Errorf("plan services %v, want %v", plan.Services(), tc.services)
			}
			y, err := plan.YAML()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.ports {
				if !strings.Contains(string(y), p) {
					t.Errorf("plan lacks port %s:\n%s", p, y)
				}
			}
			for _, f := range tc.forbidden {
				if strings.Contains(string(y), f) {
					t.Errorf("plan holds %q:\n%s", f, y)
				}
			}
		})
	}

	// Targets that no longer resolve (the workspace changed since up) are an error.
	if err := s.SaveState(stack.State{Targets: []string{"gone-svc"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CurrentPlan(); err == nil || !strings.Contains(err.Error(), `unknown target "gone-svc"`) {
		t.Errorf("CurrentPlan with a stale target: %v", err)
	}
}

func TestUpWithFakeEngine(t *testing.T) {
	ctx := context.Background()
	ws := stack.LoadFixture(t, nil)
	f := &enginetest.Fake{}
	var out bytes.Buffer
	// No Docker client: search-2 and kvstore have no Dockerfile (nothing is built) and share
	// no host (no pause image is needed).
	s := stack.New(ws, "upt", f, nil, &out)
	s.Convert = convert.Options{EphemeralPorts: true, BindAddress: "127.0.0.3"}
	res, err := s.Up(ctx, []string{"search-2"}, stack.UpOptions{Wait: true, WaitTimeout: 7 * time.Second, Recreate: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"kvstore", "search-2"}; !reflect.DeepEqual(res.Selection.Services, want) {
		t.Errorf("selection %v, want %v", res.Selection.Services, want)
	}
	if len(res.Builds) != 0 {
		t.Errorf("builds %v, want none", res.Builds)
	}
	if res.Project.Name != "upt" || len(res.Project.Services) != 2 {
		t.Errorf("project %q with %v", res.Project.Name, res.Project.ServiceNames())
	}
	ups := f.CallsTo("Up")
	if len(ups) != 1 || ups[0].Project != "upt" {
		t.Fatalf("engine Up calls: %+v", ups)
	}
	want := engine.UpOptions{Wait: true, WaitTimeout: 7 * time.Second, Recreate: engine.RecreateForce}
	if got := ups[0].Options.(engine.UpOptions); !reflect.DeepEqual(got, want) {
		t.Errorf("engine Up options %+v, want %+v", got, want)
	}
	st, ok := s.LoadState()
	if !ok {
		t.Fatal("Up saved no state")
	}
	if !reflect.DeepEqual(st.Targets, []string{"search-2"}) || !reflect.DeepEqual(st.Services, []string{"kvstore", "search-2"}) || !st.EphemeralPorts || st.BindAddress != "127.0.0.3" {
		t.Errorf("state %+v", st)
	}
	if _, err := os.Stat(filepath.Join(s.ProjectDir(), "compose.yaml")); err != nil {
		t.Errorf("compose.yaml: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("unexpected output %q", out.String())
	}
	// Up released the project lock.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	u, err := s.LockProject(dead)
	if err != nil {
		t.Fatalf("lock after Up: %v", err)
	}
	u()

	// Without Recreate, the default policy; an engine error is returned.
	boom := errors.New("boom")
	f.FailNext("Up", boom)
	if _, err := s.Up(ctx, []string{"kv-1"}, stack.UpOptions{}); !errors.Is(err, boom) {
		t.Errorf("engine error: %v", err)
	}
	if ups := f.CallsTo("Up"); len(ups) != 2 || ups[1].Options.(engine.UpOptions).Recreate != "" {
		t.Errorf("engine Up calls: %+v", ups)
	}

	// An unknown target fails before anything is touched.
	f.Reset()
	fresh := stack.New(ws, "fresh", f, nil, nil)
	if _, err := fresh.Up(ctx, []string{"nope"}, stack.UpOptions{}); err == nil || !strings.Contains(err.Error(), `unknown target "nope"`) {
		t.Errorf("unknown target: %v", err)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("engine called: %+v", f.Calls())
	}
	if _, err := os.Stat(fresh.ProjectDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed Up created %s", fresh.ProjectDir())
	}
}

// fakeDocker is the part of the Docker API RemoveCreated uses.
type fakeDocker struct {
	client.APIClient // nil: any other call panics
	list             []container.Summary
	listOpts         container.ListOptions
	removed          []string
	removeErr        map[string]error
	started, renamed []string
}

// ClientVersion is the API version stack.New asks for (an Engine 20.10 daemon).
func (f *fakeDocker) ClientVersion() string { return "1.41" }

func (d *fakeDocker) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	d.listOpts = o
	if !slices.Contains(o.Filters.Get("status"), "created") {
		return d.list, nil
	}
	var out []container.Summary
	for _, c := range d.list {
		if c.State == "" || c.State == "created" {
			out = append(out, c)
		}
	}
	return out, nil
}

func (d *fakeDocker) ContainerRemove(_ context.Context, id string, o container.RemoveOptions) error {
	if !o.Force {
		return errors.New("not forced")
	}
	d.removed = append(d.removed, id)
	return d.removeErr[id]
}

func (d *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	d.started = append(d.started, id)
	return nil
}

func (d *fakeDocker) ContainerRename(_ context.Context, id, name string) error {
	d.renamed = append(d.renamed, id+"->"+name)
	return nil
}

// TestRemoveCreatedFinishesARecreate: a created container compose made to replace another
// (an up interrupted mid-recreate) is not removed: the old one is, the new one gets its
// name and is started — the service is left running.
func TestRemoveCreatedFinishesARecreate(t *testing.T) {
	ws := stack.LoadFixture(t, nil)
	lbl := map[string]string{labels.ComposeService: "kv", labels.ComposeNumber: "1", labels.ComposeReplace: "kv-1"}
	d := &fakeDocker{list: []container.Summary{
		{ID: "new", Names: []string{"/0123456789ab_rc-kv-1"}, Labels: lbl, State: "created"},
		{ID: "old", Names: []string{"/rc-kv-1"}, Labels: map[string]string{labels.ComposeService: "kv", labels.ComposeNumber: "1"}, State: "exited"},
	}}
	s := stack.New(ws, "rc", nil, d, nil)
	if err := s.RemoveCreated(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.removed, []string{"old"}) || !reflect.DeepEqual(d.renamed, []string{"new->rc-kv-1"}) || !reflect.DeepEqual(d.started, []string{"new"}) {
		t.Errorf("removed %v renamed %v started %v; want old removed, new renamed rc-kv-1 and started", d.removed, d.renamed, d.started)
	}
	if got := d.listOpts.Filters.Get("label"); !slices.Contains(got, labels.ComposeNumber+"=1") || !slices.Contains(got, labels.ComposeService+"=kv") {
		t.Errorf("the replaced container is looked up with labels %v", got)
	}
}

func TestRemoveCreated(t *testing.T) {
	ws := stack.LoadFixture(t, nil)
	e1, e2 := errors.New("first"), errors.New("second")
	d := &fakeDocker{
		list:      []container.Summary{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		removeErr: map[string]error{"b": e1, "c": e2},
	}
	s := stack.New(ws, "rc", nil, d, nil)
	if err := s.RemoveCreated(context.Background()); !errors.Is(err, e1) {
		t.Errorf("err %v, want the first failure", err)
	}
	if !reflect.DeepEqual(d.removed, []string{"a", "b", "c"}) {
		t.Errorf("removed %v: a failure must not stop the others", d.removed)
	}
	if !d.listOpts.All {
		t.Error("list without All: created containers are not running")
	}
	if got := d.listOpts.Filters.Get("label"); !reflect.DeepEqual(got, []string{"com.docker.compose.project=rc"}) {
		t.Errorf("label filter %v", got)
	}
	if got := d.listOpts.Filters.Get("status"); !reflect.DeepEqual(got, []string{"created"}) {
		t.Errorf("status filter %v", got)
	}
}

// TestUpIsAdditive: up B while the stack runs A keeps A (compose's up is additive): the
// project declares both, the engine is asked to converge only B's closure, nothing is
// removed, and the recorded targets are the union. A later down forgets both.
func TestUpIsAdditive(t *testing.T) {
	ctx := context.Background()
	ws := stack.LoadFixture(t, nil)
	f := &enginetest.Fake{}
	var out bytes.Buffer
	s := stack.New(ws, "additive", f, nil, &out)
	s.Convert = convert.Options{EphemeralPorts: true}
	if _, err := s.Up(ctx, []string{"search-2"}, stack.UpOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	a, _ := f.Ps(ctx, "additive", engine.PsOptions{All: true})
	f.Reset()
	res, err := s.Up(ctx, []string{"kv-1"}, stack.UpOptions{Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Kept, []string{"search-2"}) || !reflect.DeepEqual(res.Targets, []string{"kv-1", "search-2"}) {
		t.Errorf("kept %v, targets %v; want [search-2] and [kv-1 search-2]", res.Kept, res.Targets)
	}
	for _, svc := range []string{"search-2", "kvstore"} {
		if _, ok := res.Project.Services[svc]; !ok {
			t.Errorf("the project of the second up does not declare %s (it would be an orphan): %v", svc, res.Project.ServiceNames())
		}
	}
	ups := f.CallsTo("Up")
	if len(ups) != 1 {
		t.Fatalf("Up calls %+v", ups)
	}
	uo := ups[0].Options.(engine.UpOptions)
	if uo.RemoveOrphans || slices.Contains(uo.Services, "search-2") || len(uo.Services) == 0 {
		t.Errorf("engine Up options %+v: want only kv-1's closure, no orphan removal", uo)
	}
	st, _ := s.LoadState()
	if !reflect.DeepEqual(st.Targets, []string{"kv-1", "search-2"}) {
		t.Errorf("recorded targets %v, want the union", st.Targets)
	}
	b, _ := f.Ps(ctx, "additive", engine.PsOptions{All: true})
	for _, c := range a {
		if !slices.ContainsFunc(b, func(x engine.Container) bool { return x.ID == c.ID }) {
			t.Errorf("container %s of %s is gone after the second up", c.ID, c.Service)
		}
	}
	// The stack gone (down elsewhere: no container left), up starts afresh with its targets.
	if err := f.Down(ctx, "additive", engine.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = s.Up(ctx, []string{"kv-1"}, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 0 || !reflect.DeepEqual(res.Targets, []string{"kv-1"}) {
		t.Errorf("after the stack was gone: kept %v, targets %v", res.Kept, res.Targets)
	}
}
