package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeEnv struct {
	w     *Watcher
	clock *FakeClock
	src   *FakeSource
}

func newFakeWatcher(t *testing.T, targets []Target, opts Options) *fakeEnv {
	t.Helper()
	e := &fakeEnv{clock: NewFakeClock(t0), src: NewFakeSource()}
	opts.Clock, opts.Source = e.clock, e.src
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	w, err := New(targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	t.Cleanup(func() { w.Close() })
	return e
}

// drain returns every ChangeSet the Watcher has ready, without waiting for more.
func (e *fakeEnv) drain(t *testing.T) []ChangeSet {
	t.Helper()
	var n int
	if !e.w.do(func() { n = len(e.w.outbox) }) {
		t.Fatal("watcher closed")
	}
	out := make([]ChangeSet, 0, n)
	for range n {
		select {
		case cs := <-e.w.Changes():
			out = append(out, cs)
		case <-time.After(5 * time.Second):
			t.Fatal("timeout receiving a ready ChangeSet")
		}
	}
	return out
}

func (e *fakeEnv) step(d time.Duration) { e.clock.Advance(d) }

func write(p string) Event  { return Event{Path: p, Op: OpWrite} }
func create(p string) Event { return Event{Path: p, Op: OpCreate} }
func remove(p string) Event { return Event{Path: p, Op: OpRemove} }

// mkdirs creates dirs (relative to root) and returns root.
func mkdirs(t *testing.T, root string, dirs ...string) string {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func services(css []ChangeSet) []string {
	var out []string
	for _, cs := range css {
		out = append(out, cs.Service)
	}
	return out
}

func TestDebounceSlides(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}}, Options{Debounce: 200 * time.Millisecond, MaxWait: 10 * time.Second})
	f1, f2 := filepath.Join(root, "1.go"), filepath.Join(root, "2.go")

	e.src.Send(write(f1))
	e.step(150 * time.Millisecond)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("fired before the quiet period: %v", got)
	}
	e.src.Send(write(f2)) // t=150: slides the deadline to 350
	e.step(150 * time.Millisecond)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("fired at t=300 although the last event was at t=150: %v", got)
	}
	e.step(49 * time.Millisecond)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("fired at t=349: %v", got)
	}
	e.step(1 * time.Millisecond)
	got := e.drain(t)
	want := []ChangeSet{{Service: "a", Paths: []string{f1, f2}, At: t0.Add(350 * time.Millisecond)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	e.step(time.Hour)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("extra ChangeSets: %v", got)
	}
	if n := e.clock.Timers(); n != 0 {
		t.Errorf("%d timers left armed when idle", n)
	}
}

func TestDebounceMaxWait(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}}, Options{Debounce: 200 * time.Millisecond, MaxWait: time.Second})
	f := filepath.Join(root, "log.txt")
	var fired []time.Duration
	// A write every 100ms for 3.05s: never quiet for 200ms.
	for i := 0; i <= 30; i++ {
		e.src.Send(write(f))
		for _, cs := range e.drain(t) {
			fired = append(fired, cs.At.Sub(t0))
		}
		e.step(100 * time.Millisecond)
	}
	for _, cs := range e.drain(t) {
		fired = append(fired, cs.At.Sub(t0))
	}
	// First batch starts at 0 → capped at 1s; the write at 1s (after the flush) starts
	// the next one → 2s; then 3s.
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	if !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
	e.step(200 * time.Millisecond) // t=3.3s, last write at 3.0s
	got := e.drain(t)
	if len(got) != 1 || got[0].At.Sub(t0) != 3200*time.Millisecond {
		t.Fatalf("after the stream stops: got %+v, want one ChangeSet at 3.2s", got)
	}
}

func TestDefaultOptions(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}}, Options{})
	if e.w.debounce != DefaultDebounce || e.w.maxWait != DefaultMaxWait {
		t.Fatalf("debounce %v maxWait %v", e.w.debounce, e.w.maxWait)
	}
	e.src.Send(write(filepath.Join(root, "x")))
	e.step(DefaultDebounce)
	if got := e.drain(t); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
}

func TestBurstCoalescesPerService(t *testing.T) {
	base := t.TempDir()
	a, b, c := mkdirs(t, filepath.Join(base, "a")), mkdirs(t, filepath.Join(base, "b")), mkdirs(t, filepath.Join(base, "c"))
	e := newFakeWatcher(t, []Target{
		{Service: "a", Root: a},
		{Service: "b", Root: b},
		{Service: "c", Root: c},
		{Service: "shared", Root: base, Ignore: []string{"c"}},
	}, Options{Debounce: 200 * time.Millisecond})

	// A git checkout: 10,000 events over 100ms of fake time, spread over a and b.
	evs := make([]Event, 0, 10000)
	for i := range 10000 {
		dir := a
		if i%2 == 1 {
			dir = b
		}
		op := OpWrite
		if i%3 == 0 {
			op = OpCreate | OpWrite
		}
		evs = append(evs, Event{Path: filepath.Join(dir, fmt.Sprintf("f%04d.go", i/2)), Op: op})
	}
	for i := 0; i < len(evs); i += 1000 {
		e.src.Send(evs[i : i+1000]...)
		e.step(10 * time.Millisecond)
	}
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("fired during the burst: %v", services(got))
	}
	e.step(700 * time.Millisecond) // the last events at 90 ms: quiet until 890 ms
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("fired before 4 debounces of quiet after a burst of many files: %v", services(got))
	}
	e.step(100 * time.Millisecond)
	got := e.drain(t)
	if want := []string{"a", "b", "shared"}; !reflect.DeepEqual(services(got), want) {
		t.Fatalf("services = %v, want %v (one ChangeSet each, none for c)", services(got), want)
	}
	for _, cs := range got {
		want := 5000
		if cs.Service == "shared" {
			want = 10000
		}
		if len(cs.Paths) != want {
			t.Errorf("%s: %d paths, want %d", cs.Service, len(cs.Paths), want)
		}
		for i := 1; i < len(cs.Paths); i++ {
			if cs.Paths[i-1] >= cs.Paths[i] {
				t.Fatalf("%s: paths not sorted/deduplicated at %d: %q, %q", cs.Service, i, cs.Paths[i-1], cs.Paths[i])
			}
		}
	}
	e.step(time.Hour)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("extra: %v", services(got))
	}
}

func TestOnlyOwnersChange(t *testing.T) {
	base := t.TempDir()
	web := mkdirs(t, filepath.Join(base, "apps/web"))
	api := mkdirs(t, filepath.Join(base, "apps/api"))
	svc := mkdirs(t, filepath.Join(base, "services/web"), "services/api", "profiles")
	_ = svc
	profile := filepath.Join(base, "profiles/dev.yaml")
	e := newFakeWatcher(t, []Target{
		{Service: "web", Root: web, Files: []string{filepath.Join(base, "services/web/build.sh"), profile}},
		{Service: "api", Root: api, Files: []string{filepath.Join(base, "services/api/Dockerfile"), profile}},
	}, Options{})

	tests := []struct {
		name string
		evs  []Event
		want map[string][]string
	}{
		{"web source", []Event{write(filepath.Join(web, "main.go"))}, map[string][]string{"web": {filepath.Join(web, "main.go")}}},
		{"api file", []Event{write(filepath.Join(base, "services/api/Dockerfile"))}, map[string][]string{"api": {filepath.Join(base, "services/api/Dockerfile")}}},
		{"shared profile", []Event{write(profile)}, map[string][]string{"web": {profile}, "api": {profile}}},
		{"unrelated file next to a watched file", []Event{write(filepath.Join(base, "services/web/notes.md"))}, nil},
		{"editor temp files", []Event{
			create(filepath.Join(web, ".main.go.swp")), write(filepath.Join(web, ".main.go.swp")),
			create(filepath.Join(web, "4913")), remove(filepath.Join(web, "4913")),
			write(filepath.Join(web, "main.go~")), create(filepath.Join(web, ".#main.go")),
		}, nil},
		{"git internals", []Event{write(filepath.Join(web, ".git/index")), create(filepath.Join(web, ".git/objects/ab/cdef"))}, nil},
		{"chmod only", []Event{{Path: filepath.Join(web, "main.go"), Op: OpChmod}}, nil},
		{"removal counts", []Event{remove(filepath.Join(api, "old.go"))}, map[string][]string{"api": {filepath.Join(api, "old.go")}}},
		{"atomic save", []Event{
			create(filepath.Join(web, "main.go.tmp123")), write(filepath.Join(web, "main.go.tmp123")),
			{Path: filepath.Join(web, "main.go.tmp123"), Op: OpRename}, create(filepath.Join(web, "main.go")),
		}, map[string][]string{"web": {filepath.Join(web, "main.go"), filepath.Join(web, "main.go.tmp123")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.src.Send(tt.evs...)
			e.step(time.Second)
			got := map[string][]string{}
			for _, cs := range e.drain(t) {
				got[cs.Service] = cs.Paths
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIgnoredDirsAreNotWatched(t *testing.T) {
	root := mkdirs(t, t.TempDir(),
		"src/pkg", ".git/objects/aa", "node_modules/x/y", "testdata/keep/sub", "testdata/drop",
		"out/bin", "vendor/.git", "docs")
	svcDir := mkdirs(t, t.TempDir(), ".src/copy")
	e := newFakeWatcher(t, []Target{{
		Service: "a", Root: root,
		Ignore:  []string{"node_modules/", "testdata", "!testdata/keep"},
		Outputs: []string{filepath.Join(root, "out"), filepath.Join(svcDir, ".src")},
		Files:   []string{filepath.Join(svcDir, "build.sh"), filepath.Join(svcDir, "Dockerfile")},
	}}, Options{})
	var want []string
	for _, d := range []string{"", "docs", "src", "src/pkg", "testdata", "testdata/keep", "testdata/keep/sub", "vendor"} {
		want = append(want, filepath.Join(root, d))
	}
	want = append(want, svcDir)
	sortStrings(want)
	if got := e.src.Watches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("watches:\n got %v\nwant %v", got, want)
	}
	// Events under outputs and ignored dirs (if any arrive) change nothing.
	e.src.Send(write(filepath.Join(root, "out/bin/server")), write(filepath.Join(svcDir, ".src/copy/main.go")),
		write(filepath.Join(root, "testdata/drop/x")), write(filepath.Join(root, "node_modules/x/y/z.js")))
	e.step(time.Second)
	if got := e.drain(t); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	e.src.Send(write(filepath.Join(root, "testdata/keep/sub/x")))
	e.step(time.Second)
	if got := e.drain(t); len(got) != 1 {
		t.Fatalf("exception not reported: %v", got)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestCreatedDirIsWalked(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root, Ignore: []string{"**/skip"}}}, Options{})
	// The directory tree and its files exist before the Create event is handled
	// (mkdir -p a/b/c && touch ...: the watch on "a" comes too late for b, c, files).
	mkdirs(t, root, "a/b/c", "a/skip/d", "a/.git")
	for _, f := range []string{"a/1", "a/b/2", "a/b/c/3", "a/skip/d/4", "a/.git/HEAD"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.src.Send(create(filepath.Join(root, "a")))
	var want []string
	for _, d := range []string{"", "a", "a/b", "a/b/c"} {
		want = append(want, filepath.Join(root, d))
	}
	if got := e.src.Watches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("watches:\n got %v\nwant %v", got, want)
	}
	// Events for the subdirectories, queued before their watch existed, do not walk again.
	adds := e.src.Adds()
	e.src.Send(create(filepath.Join(root, "a/b")), create(filepath.Join(root, "a/b/c")))
	if e.src.Adds() != adds {
		t.Errorf("already watched directories were added again")
	}
	e.step(time.Second)
	got := e.drain(t)
	var wantPaths []string
	for _, p := range []string{"a", "a/1", "a/b", "a/b/2", "a/b/c", "a/b/c/3"} {
		wantPaths = append(wantPaths, filepath.Join(root, p))
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Paths, wantPaths) {
		t.Fatalf("got %+v, want paths %v", got, wantPaths)
	}
}

func TestRemovedDirDropsWatches(t *testing.T) {
	root := mkdirs(t, t.TempDir(), "a/b/c", "a2", "x")
	e := newFakeWatcher(t, []Target{{Service: "s", Root: root}}, Options{})
	if n := len(e.src.Watches()); n != 6 {
		t.Fatalf("%d watches, want 6: %v", n, e.src.Watches())
	}
	e.src.Send(Event{Path: filepath.Join(root, "a"), Op: OpRename})
	want := []string{root, filepath.Join(root, "a2"), filepath.Join(root, "x")}
	if got := e.src.Watches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("watches after removing a: %v, want %v", got, want)
	}
	e.src.Send(remove(filepath.Join(root, "x")), remove(filepath.Join(root, "x"))) // twice: no error
	e.step(time.Second)
	got := e.drain(t)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Paths, []string{filepath.Join(root, "a"), filepath.Join(root, "x")}) {
		t.Fatalf("got %+v", got)
	}
	var n int
	e.w.do(func() { n = len(e.w.watched) + len(e.w.children) })
	if n != 2+2 { // root and a2 watched; children[parent of root] = {root}, children[root] = {a2}
		t.Errorf("internal bookkeeping leaks: %d entries", n)
	}
}

func TestSlowConsumerGetsMergedChangeSet(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}, {Service: "b", Root: t.TempDir()}}, Options{})
	e.src.Send(write(filepath.Join(root, "1")))
	e.step(time.Second)
	e.src.Send(write(filepath.Join(root, "2")))
	e.step(time.Second) // nobody received the first one yet
	got := e.drain(t)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Paths, []string{filepath.Join(root, "1"), filepath.Join(root, "2")}) {
		t.Fatalf("got %+v, want one merged ChangeSet", got)
	}
	if got[0].At != t0.Add(time.Second+DefaultDebounce) {
		t.Errorf("At = %v", got[0].At.Sub(t0))
	}
}

func TestSetTargets(t *testing.T) {
	base := t.TempDir()
	a := mkdirs(t, filepath.Join(base, "a"), "sub")
	b := mkdirs(t, filepath.Join(base, "b"), "sub")
	c := mkdirs(t, filepath.Join(base, "c"), "sub")
	e := newFakeWatcher(t, []Target{{Service: "a", Root: a}, {Service: "b", Root: b}}, Options{})
	e.src.Send(write(filepath.Join(b, "x")), write(filepath.Join(a, "x")))

	if err := e.w.SetTargets([]Target{{Service: "a", Root: a}, {Service: "c", Root: c, Files: []string{filepath.Join(base, "c.yaml")}}}); err != nil {
		t.Fatal(err)
	}
	want := []string{base, a, filepath.Join(a, "sub"), c, filepath.Join(c, "sub")}
	sortStrings(want)
	if got := e.src.Watches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("watches:\n got %v\nwant %v", got, want)
	}
	e.src.Send(write(filepath.Join(c, "sub/y")), write(filepath.Join(b, "y")), write(filepath.Join(base, "c.yaml")))
	e.step(time.Second)
	got := e.drain(t)
	if want := []string{"a", "c"}; !reflect.DeepEqual(services(got), want) {
		t.Fatalf("services %v, want %v (b was removed)", services(got), want)
	}
	if n := len(got[1].Paths); n != 2 {
		t.Errorf("c paths %v", got[1].Paths)
	}

	// A validation error changes nothing.
	if err := e.w.SetTargets([]Target{{Service: "a", Root: filepath.Join(base, "missing")}}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
	if got := e.src.Watches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("watches changed on error: %v", got)
	}
	if err := e.w.SetTargets(nil); err != nil {
		t.Fatal(err)
	}
	if got := e.src.Watches(); len(got) != 0 {
		t.Fatalf("watches left with no targets: %v", got)
	}
	e.w.Close()
	if err := e.w.SetTargets(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		targets []Target
		want    string
	}{
		{"missing root", []Target{{Service: "a", Root: filepath.Join(dir, "nope")}}, "watch a: root"},
		{"root is a file", []Target{{Service: "a", Root: file}}, "not a directory"},
		{"relative root", []Target{{Service: "a", Root: "rel"}}, "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := NewFakeSource()
			_, err := New(tt.targets, Options{Source: src, Clock: NewFakeClock(t0)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSymlinkedRoot(t *testing.T) {
	real := mkdirs(t, t.TempDir(), "sub")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	e := newFakeWatcher(t, []Target{{Service: "a", Root: link}}, Options{})
	if got := e.src.Watches(); len(got) != 2 {
		t.Fatalf("watches %v", got)
	}
}

func withProcInotify(t *testing.T, watches, instances string) {
	t.Helper()
	dir := t.TempDir()
	if watches != "" {
		os.WriteFile(filepath.Join(dir, "max_user_watches"), []byte(watches+"\n"), 0o644)
	}
	if instances != "" {
		os.WriteFile(filepath.Join(dir, "max_user_instances"), []byte(instances+"\n"), 0o644)
	}
	old := procInotify
	procInotify = dir
	t.Cleanup(func() { procInotify = old })
}

// withPlatform makes the limit messages those of goosName with an open files limit of
// files: the macOS (kqueue) message is tested on Linux.
func withPlatform(t *testing.T, goosName string, files int) {
	t.Helper()
	oldOS, oldFiles := goos, openFilesLimit
	goos, openFilesLimit = goosName, func() int { return files }
	t.Cleanup(func() { goos, openFilesLimit = oldOS, oldFiles })
}

func TestLimitErrors(t *testing.T) {
	withPlatform(t, "linux", 1024)
	tests := []struct {
		name     string
		watches  string
		inst     string
		err      error
		want     string
		isLimit  bool
		fromFake bool
	}{
		{"watches", "8192", "128", syscall.ENOSPC,
			"watch limit reached (fs.inotify.max_user_watches=8192): run: sudo sysctl fs.inotify.max_user_watches=524288", true, true},
		{"watches already high", "1000000", "128", fmt.Errorf("add: %w", syscall.ENOSPC),
			"watch limit reached (fs.inotify.max_user_watches=1000000): run: sudo sysctl fs.inotify.max_user_watches=2000000", true, true},
		{"instances", "8192", "128", fmt.Errorf("couldn't initialize inotify: %w", syscall.EMFILE),
			"watch instance limit reached (fs.inotify.max_user_instances=128): run: sudo sysctl fs.inotify.max_user_instances=1024", true, true},
		{"unreadable", "", "", syscall.ENOSPC,
			"watch limit reached (fs.inotify.max_user_watches=?): run: sudo sysctl fs.inotify.max_user_watches=524288", true, true},
		{"other error", "8192", "128", syscall.EACCES, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withProcInotify(t, tt.watches, tt.inst)
			le := limitError(tt.err)
			if (le != nil) != tt.isLimit {
				t.Fatalf("limitError(%v) = %v", tt.err, le)
			}
			if le == nil {
				return
			}
			if le.Error() != tt.want {
				t.Errorf("message:\n got %q\nwant %q", le.Error(), tt.want)
			}
			if strings.Contains(le.Error(), "\n") {
				t.Error("message is not one line")
			}
			if !errors.Is(le, tt.err) && !errors.Is(le, errors.Unwrap(tt.err)) {
				t.Error("does not unwrap to the cause")
			}
		})
	}
}

// TestLimitErrorsOnMacOS: kqueue holds an open file per watched file and folder, so on
// macOS EMFILE/ENFILE is the open files limit: the one-line message names it, its value
// and how to raise it (launchctl and ulimit), not an inotify sysctl.
func TestLimitErrorsOnMacOS(t *testing.T) {
	withProcInotify(t, "", "") // no /proc on macOS
	for _, tt := range []struct {
		files int
		err   error
		want  string
	}{
		{256, fmt.Errorf("open /src/a: %w", syscall.EMFILE), "watch limit reached: macOS watches every file with an open file (open files limit 256): raise it with sudo launchctl limit maxfiles 65536 131072 and ulimit -n 65536 in this shell, or watch fewer files (watch.ignore in service.yaml)"},
		{100000, syscall.ENFILE, "open files limit 100000): raise it with sudo launchctl limit maxfiles 200000 400000 and ulimit -n 200000 in this shell"},
		{-1, syscall.EMFILE, "open files limit unknown"},
	} {
		withPlatform(t, "darwin", tt.files)
		le := limitError(tt.err)
		if le == nil {
			t.Errorf("darwin, open files limit %d, %v: not a limit error", tt.files, tt.err)
			continue
		}
		if le.Sysctl != SysctlMaxFilesPerProc || !strings.Contains(le.Error(), tt.want) || strings.Contains(le.Error(), "\n") || !errors.Is(le, tt.err) {
			t.Errorf("darwin, open files limit %d, %v: %+v\n got %q\nwant %q", tt.files, tt.err, le, le.Error(), tt.want)
		}
	}
	// From the watcher: New reports it in one line and closes its source.
	withPlatform(t, "darwin", 256)
	src := NewFakeSource()
	src.FailAdd(func(string) error { return syscall.EMFILE })
	_, err := New([]Target{{Service: "s", Root: mkdirs(t, t.TempDir(), "a")}}, Options{Source: src, Clock: NewFakeClock(t0)})
	var le *LimitError
	if !errors.As(err, &le) || le.Sysctl != SysctlMaxFilesPerProc || !strings.Contains(err.Error(), "ulimit -n 65536") {
		t.Errorf("New on macOS: %v", err)
	}
	// Linux keeps its inotify message for EMFILE; Windows has no such limit.
	withPlatform(t, "linux", 256)
	if le := limitError(syscall.EMFILE); le == nil || le.Sysctl != SysctlMaxInstances {
		t.Errorf("linux EMFILE: %+v", le)
	}
}

func TestLimitErrorFromWatcher(t *testing.T) {
	withPlatform(t, "linux", 1024)
	withProcInotify(t, "8192", "128")
	root := mkdirs(t, t.TempDir(), "a", "b", "c")

	// At start: New fails with the one-line message and closes its source.
	src := NewFakeSource()
	src.FailAdd(func(dir string) error {
		if strings.HasSuffix(dir, "/b") {
			return syscall.ENOSPC
		}
		return nil
	})
	_, err := New([]Target{{Service: "s", Root: root}}, Options{Source: src, Clock: NewFakeClock(t0)})
	var le *LimitError
	if !errors.As(err, &le) || le.Sysctl != SysctlMaxWatches || le.Current != 8192 {
		t.Fatalf("New: err = %v, want a LimitError", err)
	}
	if !strings.HasPrefix(err.Error(), "watch limit reached (fs.inotify.max_user_watches=8192): run: sudo sysctl") {
		t.Errorf("message %q", err)
	}
	if got := src.Watches(); len(got) != 0 {
		t.Errorf("watches left after a failed New: %v", got)
	}

	// While running: reported once on Errors, the watcher keeps going.
	e := newFakeWatcher(t, []Target{{Service: "s", Root: root}}, Options{})
	e.src.FailAdd(func(dir string) error {
		if strings.Contains(dir, "/new") {
			return syscall.ENOSPC
		}
		return nil
	})
	mkdirs(t, root, "new1", "new2")
	e.src.Send(create(filepath.Join(root, "new1")), create(filepath.Join(root, "new2")))
	select {
	case err := <-e.w.Errors():
		if !errors.As(err, &le) {
			t.Fatalf("error %v, want a LimitError", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
	}
	e.src.Sync()
	select {
	case err := <-e.w.Errors():
		t.Fatalf("limit error reported twice: %v", err)
	default:
	}
	e.src.Send(write(filepath.Join(root, "a/x")))
	e.step(time.Second)
	if got := e.drain(t); len(got) != 1 {
		t.Fatalf("watcher stopped working after a limit error: %v", got)
	}
}

func TestOverflowRescansAndReportsEveryService(t *testing.T) {
	base := t.TempDir()
	a := mkdirs(t, filepath.Join(base, "a"))
	b := mkdirs(t, filepath.Join(base, "b"))
	e := newFakeWatcher(t, []Target{
		{Service: "a", Root: a, Files: []string{filepath.Join(base, "a.yaml")}},
		{Service: "b", Root: b},
	}, Options{})
	// A directory created while events were lost: the rescan must watch it.
	mkdirs(t, a, "missed")
	e.src.SendError(ErrOverflow)
	if !contains(e.src.Watches(), filepath.Join(a, "missed")) {
		t.Fatalf("rescan did not add the missed directory: %v", e.src.Watches())
	}
	e.step(time.Second)
	got := e.drain(t)
	if !reflect.DeepEqual(services(got), []string{"a", "b"}) {
		t.Fatalf("got %v", services(got))
	}
	if want := []string{a, filepath.Join(base, "a.yaml")}; !reflect.DeepEqual(got[0].Paths, want) {
		t.Errorf("a paths %v, want %v", got[0].Paths, want)
	}
	select {
	case err := <-e.w.Errors():
		t.Fatalf("overflow is handled, not reported: %v", err)
	default:
	}
}

func TestSourceErrorsAreReported(t *testing.T) {
	e := newFakeWatcher(t, []Target{{Service: "a", Root: t.TempDir()}}, Options{})
	boom := errors.New("boom")
	e.src.SendError(boom)
	select {
	case err := <-e.w.Errors():
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not reported")
	}
}

func TestCloseReleasesFakeWatches(t *testing.T) {
	root := mkdirs(t, t.TempDir(), "a/b")
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}}, Options{})
	e.src.Send(write(filepath.Join(root, "x"))) // pending: dropped by Close
	if len(e.src.Watches()) != 3 {
		t.Fatal(e.src.Watches())
	}
	if err := e.w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if got := e.src.Watches(); len(got) != 0 {
		t.Fatalf("watches after Close: %v", got)
	}
	if _, ok := <-e.w.Changes(); ok {
		t.Fatal("Changes not closed")
	}
	if _, ok := <-e.w.Errors(); ok {
		t.Fatal("Errors not closed")
	}
	e.step(time.Hour) // a timer firing after Close must not block
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestStreamStallIsNotItsEnd: a stream of writes lasting seconds (a checkout) that stalls
// for a few debounces in the middle (a loaded machine) is still one change set, emitted
// once it has been quiet for a quarter of its length (at most StreamQuietMax); a single
// save keeps the plain debounce.
func TestStreamStallIsNotItsEnd(t *testing.T) {
	root := t.TempDir()
	e := newFakeWatcher(t, []Target{{Service: "a", Root: root}}, Options{Debounce: 100 * time.Millisecond})
	var fired []ChangeSet
	send := func(i int) {
		e.src.Send(write(filepath.Join(root, fmt.Sprintf("f%04d.go", i))))
		fired = append(fired, e.drain(t)...)
	}
	// 2 s of writes every 10 ms, then a 400 ms stall, then 2 s more.
	for i := 0; i < 200; i++ {
		send(i)
		e.step(10 * time.Millisecond)
	}
	e.step(400 * time.Millisecond)
	fired = append(fired, e.drain(t)...)
	for i := 200; i < 400; i++ {
		send(i)
		e.step(10 * time.Millisecond)
	}
	if len(fired) != 0 {
		t.Fatalf("the stream was cut during its stall: %d change sets, the first with %d paths", len(fired), len(fired[0].Paths))
	}
	e.step(StreamQuietMax)
	fired = append(fired, e.drain(t)...)
	if len(fired) != 1 || len(fired[0].Paths) != 400 {
		t.Fatalf("after the stream: %d change sets, want one with every path", len(fired))
	}
	// A burst of 50 files in 25 ms that stalls for 300 ms right away (a checkout starting
	// on a busy machine) is not cut either.
	for i := 500; i < 550; i++ {
		send(i)
		e.step(500 * time.Microsecond)
	}
	e.step(300 * time.Millisecond)
	fired = append(fired, e.drain(t)...)
	send(550)
	e.step(StreamQuietMax)
	fired = append(fired, e.drain(t)...)
	if len(fired) != 2 || len(fired[1].Paths) != 51 {
		t.Fatalf("burst with an early stall: %d change sets (want the stream's and one more)", len(fired))
	}
	// A single save afterwards: the plain debounce.
	start := e.clock.Now()
	send(1000)
	e.step(100 * time.Millisecond)
	got := e.drain(t)
	if len(got) != 1 || got[0].At.Sub(start) != 100*time.Millisecond {
		t.Fatalf("single save: %+v, want one change set after the debounce", got)
	}
}
