package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/watch"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func loadProject(t *testing.T, name, yaml string) *types.Project {
	t.Helper()
	p, err := convert.Load(context.Background(), []byte(yaml), name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDiffProjects(t *testing.T) {
	const base = `
services:
  db: {image: db:1, environment: {A: "1"}}
  web: {image: web:1, depends_on: [db], labels: {dev.clocal.service: web}}
  cache: {image: cache:1}
`
	for _, tc := range []struct {
		name string
		b    string
		// labels are added to every service of b as CustomLabels (like Stack.Labels)
		labels map[string]string
		// bName is b's project name (compose labels differ with it)
		bName string
		want  devloop.Diff
	}{
		{name: "identical", b: base},
		{
			name: "custom labels and project name ignored", b: base, bName: "other",
			labels: map[string]string{labels.OwnerPID: "1234"},
		},
		{
			name: "added, removed, changed",
			b: `
services:
  db: {image: db:1, environment: {A: "1"}}
  web: {image: web:2, depends_on: [db], labels: {dev.clocal.service: web}}
  queue: {image: queue:1}
  api: {image: api:1}
`,
			want: devloop.Diff{Added: []string{"api", "queue"}, Removed: []string{"cache"}, Changed: []string{"web"}},
		},
		{
			name: "env change",
			b: `
services:
  db: {image: db:1, environment: {A: "2"}}
  web: {image: web:1, depends_on: [db], labels: {dev.clocal.service: web}}
  cache: {image: cache:1}
`,
			want: devloop.Diff{Changed: []string{"db"}},
		},
		{
			// the service's own labels: are configuration, not clocal's bookkeeping
			name: "compose labels are configuration",
			b: `
services:
  db: {image: db:1, environment: {A: "1"}}
  web: {image: web:1, depends_on: [db], labels: {dev.clocal.service: web2}}
  cache: {image: cache:1}
`,
			want: devloop.Diff{Changed: []string{"web"}},
		},
		{
			name: "dependency change",
			b: `
services:
  db: {image: db:1, environment: {A: "1"}}
  web: {image: web:1, labels: {dev.clocal.service: web}}
  cache: {image: cache:1}
`,
			want: devloop.Diff{Changed: []string{"web"}},
		},
		{
			name: "everything removed",
			b:    "services:\n  other: {image: o:1}\n",
			want: devloop.Diff{Added: []string{"other"}, Removed: []string{"cache", "db", "web"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := loadProject(t, "p", base)
			name := tc.bName
			if name == "" {
				name = "p"
			}
			b := loadProject(t, name, tc.b)
			for n, svc := range b.Services {
				for k, v := range tc.labels {
					svc.CustomLabels[k] = v
				}
				b.Services[n] = svc
			}
			got := diffProjects(a, b)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("diffProjects = %+v, want %+v", got, tc.want)
			}
			// diffProjects must not strip the labels of the projects it compares
			for n, svc := range b.Services {
				if svc.CustomLabels[labels.ComposeProject] != name {
					t.Errorf("service %s lost its labels: %v", n, svc.CustomLabels)
				}
			}
		})
	}
}

// buildFixture is the fixture workspace with repo-manager built locally (Dockerfile,
// build.sh, outputs, an extra input folder, an ignore list).
func buildFixture(t *testing.T) string {
	return CopyFixture(t, map[string]string{
		"services/repo-manager/Dockerfile": "FROM scratch\n",
		"services/repo-manager/build.sh":   "#!/bin/sh\n",
		"lib/lib.go":                       "package lib\n",
		"services/repo-manager/service.yaml": `source: ../../apps/repo-manager
depends_on: [kvstore]
env: {LOG_LEVEL: debug}
mounts: {/cache: ./.data/repo-manager}
configs: [{source: config/app.json, target: /etc/app/app.json}]
build: {outputs: [.src, bin/server], inputs: [../../lib]}
watch: {ignore: ["*.log", tmp/]}
`,
	})
}

func TestWatchTargets(t *testing.T) {
	ws := LoadFixture(t, nil)
	r := ws.Root
	shared := []string{filepath.Join(r, "clocal.yaml"), filepath.Join(r, "clocal.local.yaml"), filepath.Join(r, ".env"),
		filepath.Join(r, "profiles", "dev.yaml"), filepath.Join(r, "profiles", "mailer.yaml")}
	// services without a Dockerfile or source: only their definition files; unknown names skipped
	got := watchTargets(ws, []string{"kvstore", "nope", "search-2"})
	want := []watch.Target{
		{Service: "kvstore", Files: append([]string{
			filepath.Join(r, "services", "kvstore", "service.yaml"),
			filepath.Join(r, "services", "kvstore", "kvstore.job"),
		}, shared...)},
		{Service: "search-2", Files: append([]string{
			filepath.Join(r, "services", "search", "service.yaml"),
			filepath.Join(r, "services", "search", "search.job"),
		}, shared...)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watchTargets =\n%+v\nwant\n%+v", got, want)
	}

	ws2, err := workspace.Load(buildFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	r = ws2.Root
	dir := filepath.Join(r, "services", "repo-manager")
	got = watchTargets(ws2, []string{"repo-manager"})
	outputs := []string{filepath.Join(dir, ".src"), filepath.Join(dir, "bin", "server")}
	want = []watch.Target{
		{
			Service: "repo-manager",
			Root:    filepath.Join(r, "elsewhere", "rm"), // clocal.local.yaml's source wins
			Ignore:  []string{"*.log", "tmp/"},
			Outputs: outputs,
			Files: []string{
				filepath.Join(dir, "Dockerfile"),
				filepath.Join(dir, "build.sh"),
				filepath.Join(dir, "service.yaml"),
				filepath.Join(dir, "config", "app.json"), // configs: a change restarts it
				filepath.Join(dir, "repo-manager.job"),
				filepath.Join(r, "clocal.yaml"), filepath.Join(r, "clocal.local.yaml"), filepath.Join(r, ".env"),
				filepath.Join(r, "profiles", "dev.yaml"), filepath.Join(r, "profiles", "mailer.yaml"),
			},
		},
		{Service: "repo-manager", Root: filepath.Join(r, "lib"), Outputs: outputs},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watchTargets =\n%+v\nwant\n%+v", got, want)
	}
	// build outputs are never watched themselves
	for _, tg := range got {
		for _, o := range tg.Outputs {
			if tg.Root == o || strings.HasPrefix(tg.Root, o+string(filepath.Separator)) {
				t.Errorf("root %s is a build output", tg.Root)
			}
			for _, f := range tg.Files {
				if f == o || strings.HasPrefix(f, o+string(filepath.Separator)) {
					t.Errorf("file %s is a build output", f)
				}
			}
		}
	}
}

func TestConfigFiles(t *testing.T) {
	ws, err := workspace.Load(buildFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	r := ws.Root
	want := map[string]bool{}
	for _, p := range []string{
		"clocal.yaml", "clocal.local.yaml", ".env",
		"profiles/dev.yaml", "profiles/mailer.yaml",
		// service files count even where absent (mailer, markdown): creating one changes the project
		"services/kvstore/service.yaml", "services/kvstore/kvstore.job",
		"services/mailer/service.yaml", "services/mailer/mailer.job",
		"services/markdown/service.yaml", "services/markdown/markdown.job",
		"services/repo-manager/service.yaml", "services/repo-manager/repo-manager.job",
		"services/search/service.yaml", "services/search/search.job",
	} {
		want[filepath.Join(r, filepath.FromSlash(p))] = true
	}
	if got := configFiles(ws); !reflect.DeepEqual(got, want) {
		t.Errorf("configFiles =\n%v\nwant\n%v", got, want)
	}

	// Dev.IsConfig answers from the same set: sources, build files and outputs are not config.
	s := New(ws, "cfg", nil, nil, nil)
	d := NewDev(s, []string{"dev"}, &UpResult{Selection: resolve(t, ws, "dev"), Builds: map[string]build.Result{"repo-manager": {Image: "clocal/repo-manager:abc"}}}, time.Second)
	for path, want := range map[string]bool{
		filepath.Join(r, "services", "repo-manager", "repo-manager.job"): true,
		filepath.Join(r, "profiles", "mailer.yaml"):                      true,
		filepath.Join(r, ".env"):                                         true,
		filepath.Join(r, "services", "repo-manager", "Dockerfile"):       false,
		filepath.Join(r, "services", "repo-manager", "build.sh"):         false,
		filepath.Join(r, "services", "repo-manager", ".src", "x"):        false,
		filepath.Join(r, "elsewhere", "rm", "main.go"):                   false,
		"services/kvstore/kvstore.job":                                   false, // relative: the watcher reports absolute paths
	} {
		if got := d.IsConfig(path); got != want {
			t.Errorf("IsConfig(%s) = %v, want %v", path, got, want)
		}
	}
	if img, _ := d.Current(context.Background(), "repo-manager"); img != "clocal/repo-manager:abc" {
		t.Errorf("Current(repo-manager) = %q", img)
	}
	if img, _ := d.Current(context.Background(), "kvstore"); img != "" {
		t.Errorf("Current(kvstore) = %q, want \"\" (production image, not built)", img)
	}
	if got := d.WatchTargets(); len(got) == 0 || got[0].Service != "kvstore" {
		t.Errorf("WatchTargets of dev = %+v", got)
	}
}

// startDev brings search-2 (and kvstore) up on a fake engine and returns its dev loop.
func startDev(t *testing.T) (*Dev, *enginetest.Fake) {
	t.Helper()
	ws := LoadFixture(t, nil)
	f := &enginetest.Fake{}
	s := New(ws, "dev", f, nil, nil)
	res, err := s.Up(context.Background(), []string{"search-2"}, UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Reset()
	return NewDev(s, []string{"search-2"}, res, 3*time.Second), f
}

func TestDevReplace(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	d.St.WS.Services["kvstore"].File.RestartDependents = true

	if err := d.Replace(ctx, "search-2", "search:dev"); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].Method != "Replace" || !reflect.DeepEqual(calls[0].Services, []string{"search-2"}) ||
		calls[0].Options.(engine.ReplaceOptions).WaitTimeout != 3*time.Second {
		t.Fatalf("calls %+v", calls)
	}
	if img, _ := d.Current(ctx, "search-2"); img != "search:dev" {
		t.Errorf("Current = %q", img)
	}
	if got := d.Project().Services["search-2"].Image; got != "search:dev" {
		t.Errorf("project image %q", got)
	}
	data, err := os.ReadFile(filepath.Join(d.St.ProjectDir(), "compose.yaml"))
	if err != nil || !strings.Contains(string(data), "image: search:dev") {
		t.Errorf("compose.yaml not rewritten with the new image (%v):\n%s", err, data)
	}

	// restart_dependents: search-2 depends on kvstore and is restarted after it
	f.Reset()
	if err := d.Replace(ctx, "kvstore", "kvstore:dev"); err != nil {
		t.Fatal(err)
	}
	if rs := f.CallsTo("Restart"); len(rs) != 1 || !reflect.DeepEqual(rs[0].Services, []string{"search-2"}) || rs[0].Project != "dev" {
		t.Errorf("Restart calls %+v", rs)
	}
	// both replacements are kept
	if got := d.Project().Services["search-2"].Image; got != "search:dev" {
		t.Errorf("search-2 image after kvstore's replacement: %q", got)
	}

	// a failed replacement keeps the previous image
	f.Reset()
	boom := errors.New("boom")
	f.FailNext("Replace", boom)
	if err := d.Replace(ctx, "search-2", "search:broken"); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
	if img, _ := d.Current(ctx, "search-2"); img != "search:dev" {
		t.Errorf("Current after a failed Replace = %q", img)
	}
	if len(f.CallsTo("Restart")) != 0 {
		t.Error("dependents restarted after a failed replacement")
	}

	// interrupted (Ctrl-C) after the engine finished the container change: the new image
	// runs, and the compose file says so although the context has ended
	f.Reset()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f.FailNext("Replace", &engine.InterruptedError{Service: "search-2", Replaced: true, Err: context.Canceled})
	if err := d.Replace(cctx, "search-2", "search:v3"); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted replace: err %v", err)
	}
	if img, _ := d.Current(ctx, "search-2"); img != "search:v3" {
		t.Errorf("Current after an interrupted, finished Replace = %q, want search:v3", img)
	}
	data, err = os.ReadFile(filepath.Join(d.St.ProjectDir(), "compose.yaml"))
	if err != nil || !strings.Contains(string(data), "image: search:v3") {
		t.Errorf("compose.yaml not rewritten after an interrupted, finished replace (%v)", err)
	}
	if o := f.CallsTo("Replace"); len(o) != 1 || o[0].Options.(engine.ReplaceOptions).Interrupted == nil {
		t.Errorf("Replace calls %+v: want one, with an Interrupted notice", o)
	}
}

func TestSuperviseOnce(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	var events []devloop.Event
	report := func(e devloop.Event) { events = append(events, e) }
	down := false

	// everything runs: nothing to do
	if d.superviseOnce(ctx, &down, report) != nil || len(events) != 0 || len(f.CallsTo("Up")) != 0 {
		t.Fatalf("healthy stack: events %+v, calls %+v", events, f.Calls())
	}

	// a container stopped outside clocal is reported and brought back
	_ = f.Stop(ctx, "dev", []string{"search-2"}, engine.StopOptions{})
	f.Reset()
	d.superviseOnce(ctx, &down, report)
	if len(events) != 1 || events[0].Kind != "restored" || events[0].Service != "search-2" {
		t.Errorf("events %+v", events)
	}
	ups := f.CallsTo("Up")
	if len(ups) != 1 || !reflect.DeepEqual(ups[0].Services, []string{"search-2"}) || !ups[0].Options.(engine.UpOptions).Wait {
		t.Errorf("Up calls %+v", ups)
	}

	// an unreachable daemon is reported once, then reconnected
	events = nil
	f.Reset()
	unreachable := fmt.Errorf("ps: %w", engine.ErrDaemonUnreachable)
	f.FailNext("Ps", unreachable)
	f.FailNext("Ps", unreachable)
	d.superviseOnce(ctx, &down, report)
	d.superviseOnce(ctx, &down, report)
	if len(events) != 1 || events[0].Kind != "error" || !strings.Contains(events[0].Error, "unreachable") || !down {
		t.Errorf("events %+v, down %v", events, down)
	}
	if n := len(f.CallsTo("Reconnect")); n != 2 {
		t.Errorf("Reconnect calls: %d, want 2", n)
	}
	d.superviseOnce(ctx, &down, report)
	if len(events) != 2 || events[1].Kind != "reconnected" || down {
		t.Errorf("events %+v, down %v", events, down)
	}

	// a cancelled ctx stops it
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.superviseOnce(cctx, &down, report); !errors.Is(err, context.Canceled) {
		t.Errorf("superviseOnce with a cancelled ctx: %v", err)
	}
}

func TestWithTail(t *testing.T) {
	plain := errors.New("plain")
	se := &build.ScriptError{Service: "rm", ExitCode: 2, Tail: []string{"main.go:3: undefined: x"}}
	ie := &build.ImageError{Service: "rm", Msg: "RUN failed", Tail: []string{"step 3", "exit 1"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{plain, "plain"},
		{se, "build.sh for rm failed (exit status 2)\nmain.go:3: undefined: x"},
		{fmt.Errorf("wrapped: %w", ie), "wrapped: image build for rm failed: RUN failed\nstep 3\nexit 1"},
		{&build.ScriptError{Service: "rm", ExitCode: 1}, "build.sh for rm failed (exit status 1)"},
	} {
		got := withTail(tc.err)
		if got.Error() != tc.want {
			t.Errorf("withTail(%v) = %q, want %q", tc.err, got.Error(), tc.want)
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("withTail(%v) does not unwrap to the original", tc.err)
		}
	}
}

// TestDevReload: a changed service file is re-derived and converged (Up with the new
// project); when that Up fails, the loop keeps the workspace, selection and project it ran
// before, so a later Replace renders the old, consistent configuration.
func TestDevReload(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	svcFile := filepath.Join(d.St.WS.Root, "services", "search", "service.yaml")
	appendEnv := func(kv string) {
		t.Helper()
		data, err := os.ReadFile(svcFile)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, []byte("env: {"+kv+"}\n")...)
		if err := os.WriteFile(svcFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orig, _ := os.ReadFile(svcFile)

	appendEnv("RELOADED: one")
	diff, err := d.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(diff.Changed, []string{"search-2"}) || len(diff.Added)+len(diff.Removed) != 0 {
		t.Errorf("diff %+v", diff)
	}
	ups := f.CallsTo("Up")
	if len(ups) != 1 || !ups[0].Options.(engine.UpOptions).RemoveOrphans {
		t.Fatalf("Up calls %+v", ups)
	}
	if v := d.Project().Services["search-2"].Environment["RELOADED"]; v == nil || *v != "one" {
		t.Errorf("project env after reload: %v", d.Project().Services["search-2"].Environment)
	}
	wsAfter, projAfter := d.St.WS, d.Project()

	if err := os.WriteFile(svcFile, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	appendEnv("RELOADED: two")
	f.Reset()
	boom := errors.New("boom")
	f.FailNext("Up", boom)
	if _, err := d.Reload(ctx); !errors.Is(err, boom) {
		t.Fatalf("Reload with a failing Up: %v", err)
	}
	if d.St.WS != wsAfter || d.Project() != projAfter {
		t.Error("a failed reload changed the loop's workspace or project")
	}
	if v := d.Project().Services["search-2"].Environment["RELOADED"]; v == nil || *v != "one" {
		t.Errorf("project env after a failed reload: %v", d.Project().Services["search-2"].Environment)
	}
}

// TestSuperviseTellsRemovedFromTakenDown: containers removed one by one (docker rm -f; the
// project network stays) are brought back; a stack taken down by another tool (docker
// compose down: containers and network gone, clocal's state still there) ends the watch,
// and its state is forgotten as clocal down would.
func TestSuperviseTellsRemovedFromTakenDown(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	var events []devloop.Event
	report := func(e devloop.Event) { events = append(events, e) }
	down := false

	f.RemoveContainers("dev")
	f.Reset()
	if err := d.superviseOnce(ctx, &down, report); err != nil {
		t.Fatalf("all containers removed, network kept: %v", err)
	}
	if ups := f.CallsTo("Up"); len(ups) != 1 || !reflect.DeepEqual(ups[0].Services, []string{"kvstore", "search-2"}) {
		t.Errorf("Up calls %+v, want both services brought back", ups)
	}
	if len(events) != 2 || events[0].Kind != "restored" {
		t.Errorf("events %+v", events)
	}

	events = nil
	if err := f.Down(ctx, "dev", engine.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Reset()
	err := d.superviseOnce(ctx, &down, report)
	if !errors.Is(err, devloop.ErrStackGone) || !strings.Contains(err.Error(), "dev was taken down outside this watch (its containers and network were removed") {
		t.Fatalf("after a down by another tool: %v", err)
	}
	if len(f.CallsTo("Up")) != 0 || len(events) != 0 {
		t.Errorf("calls %+v, events %+v", f.Calls(), events)
	}
	if _, ok := d.St.LoadState(); ok {
		t.Error("state kept after the stack was taken down")
	}
}

// TestSuperviseLeavesHeldStopped: a service stopped on purpose (StopServices: clocal stop,
// the status page) is not brought back by a watch; start ends the hold, and so does a
// replace by the dev loop (the service runs again).
func TestSuperviseLeavesHeldStopped(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	var events []devloop.Event
	report := func(e devloop.Event) { events = append(events, e) }
	down := false
	if err := d.St.StopServices(ctx, []string{"search-2"}, ServiceOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.St.LoadState(); !reflect.DeepEqual(st.Stopped, []string{"search-2"}) {
		t.Fatalf("held: %v", st.Stopped)
	}
	f.Reset()
	d.superviseOnce(ctx, &down, report)
	if len(events) != 0 || len(f.CallsTo("Up")) != 0 {
		t.Fatalf("a held service was brought back: %+v %+v", events, f.Calls())
	}
	if err := d.St.StartServices(ctx, []string{"search-2"}, ServiceOptions{Wait: true, WaitTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if w := f.CallsTo("Wait"); len(w) != 1 || !reflect.DeepEqual(w[0].Services, []string{"search-2"}) {
		t.Fatalf("Wait calls %+v", w)
	}
	if st, _ := d.St.LoadState(); len(st.Stopped) != 0 {
		t.Fatalf("still held after start: %v", st.Stopped)
	}
	// Held again, then replaced by the dev loop: running again, no longer held.
	if err := d.St.StopServices(ctx, nil, ServiceOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.St.LoadState(); len(st.Stopped) != 2 {
		t.Fatalf("stop of all holds all: %v", st.Stopped)
	}
	if err := d.Replace(ctx, "search-2", "search:dev"); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.St.LoadState(); !reflect.DeepEqual(st.Stopped, []string{"kvstore"}) {
		t.Fatalf("held after a replace: %v", st.Stopped)
	}
	// An operation on a service without a container changes nothing.
	if err := d.St.RestartServices(ctx, []string{"nope"}, ServiceOptions{}); !errors.Is(err, ErrNoContainers) {
		t.Fatalf("restart of a service without container: %v", err)
	}
}

// TestWatchSingleFileInput (QA-5): a build input that is a single file (or one not there
// yet) is watched through its folder: the real watcher starts, and writing the file (or
// creating the missing one) is a change of the service; other files of that folder are not.
func TestWatchSingleFileInput(t *testing.T) {
	root := CopyFixture(t, map[string]string{
		"services/repo-manager/Dockerfile": "FROM scratch\n",
		"services/repo-manager/build.sh":   "#!/bin/sh\n",
		"services/repo-manager/service.yaml": `source: ../../apps/repo-manager
build: {inputs: [../../VERSION, ../../shared/later.txt]}
`,
		"VERSION": "1.0\n",
	})
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	targets := watchTargets(ws, []string{"repo-manager"})
	for _, tg := range targets {
		if tg.Root == filepath.Join(root, "VERSION") {
			t.Fatalf("the file input is a watch root: %+v", targets)
		}
	}
	w, err := watch.New(targets, watch.Options{Debounce: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("the watcher did not start with a single-file input: %v", err)
	}
	defer w.Close()
	next := func(what string) watch.ChangeSet {
		t.Helper()
		select {
		case cs := <-w.Changes():
			return cs
		case err := <-w.Errors():
			t.Fatalf("%s: watch error %v", what, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no change set", what)
		}
		return watch.ChangeSet{}
	}
	if err := os.WriteFile(filepath.Join(root, "unrelated.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "VERSION"), []byte("1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := next("VERSION written")
	if cs.Service != "repo-manager" || !reflect.DeepEqual(cs.Paths, []string{filepath.Join(root, "VERSION")}) {
		t.Errorf("change set %+v, want repo-manager with VERSION only", cs)
	}
	// The input's folder appears later (mkdir -p, then the file): seen without new targets.
	if err := os.MkdirAll(filepath.Join(root, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shared", "later.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs = next("later.txt created")
	if cs.Service != "repo-manager" || !slices.Contains(cs.Paths, filepath.Join(root, "shared", "later.txt")) {
		t.Errorf("change set %+v, want repo-manager with shared/later.txt", cs)
	}
}
