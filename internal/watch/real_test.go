package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Real file system and real inotify. These tests wait on real time; "nothing happens"
// is asserted by waiting a few quiet periods.

const realDebounce = 100 * time.Millisecond

func skipIfNoInotify(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("inotify accounting needs Linux")
	}
}

// inotifyWatches counts the inotify watches and instances held by this process, from
// /proc/self/fdinfo.
func inotifyWatches(t testing.TB) (watches, instances int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || target != "anon_inode:inotify" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue
		}
		instances++
		watches += strings.Count(string(b), "inotify wd:")
	}
	return watches, instances
}

func newRealWatcher(t *testing.T, targets []Target, debounce time.Duration) *Watcher {
	t.Helper()
	w, err := New(targets, Options{Debounce: debounce, MaxWait: 20 * debounce, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func expectChange(t *testing.T, w *Watcher) ChangeSet {
	t.Helper()
	select {
	case cs := <-w.Changes():
		return cs
	case err := <-w.Errors():
		t.Fatalf("error: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no ChangeSet within 10s")
	}
	return ChangeSet{}
}

func expectNone(t *testing.T, w *Watcher, d time.Duration) {
	t.Helper()
	select {
	case cs := <-w.Changes():
		t.Fatalf("unexpected ChangeSet %s %v", cs.Service, cs.Paths)
	case err := <-w.Errors():
		t.Fatalf("error: %v", err)
	case <-time.After(d):
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRealWriteFile(t *testing.T) {
	root := mkdirs(t, t.TempDir(), "pkg")
	other := mkdirs(t, t.TempDir())
	f := filepath.Join(root, "pkg/main.go")
	writeFile(t, f, "package main")
	w := newRealWatcher(t, []Target{{Service: "a", Root: root}, {Service: "b", Root: other}}, realDebounce)

	writeFile(t, f, "package main // changed")
	cs := expectChange(t, w)
	if cs.Service != "a" || !reflect.DeepEqual(cs.Paths, []string{f}) {
		t.Fatalf("got %s %v", cs.Service, cs.Paths)
	}
	expectNone(t, w, 3*realDebounce)
}

func TestRealExtraFileAtomicSave(t *testing.T) {
	root := mkdirs(t, t.TempDir())
	svc := mkdirs(t, t.TempDir())
	build := filepath.Join(svc, "build.sh")
	writeFile(t, build, "#!/bin/sh\n")
	w := newRealWatcher(t, []Target{{Service: "a", Root: root, Files: []string{build}}}, realDebounce)

	// Unrelated file next to it: nothing.
	writeFile(t, filepath.Join(svc, "README"), "x")
	expectNone(t, w, 3*realDebounce)
	// Save by rename, twice (the second proves the watch survived the first).
	for i := range 2 {
		tmp := filepath.Join(svc, fmt.Sprintf(".build.sh.%d.swp", i))
		writeFile(t, tmp, fmt.Sprintf("#!/bin/sh\necho %d\n", i))
		if err := os.Rename(tmp, build); err != nil {
			t.Fatal(err)
		}
		cs := expectChange(t, w)
		if !reflect.DeepEqual(cs.Paths, []string{build}) {
			t.Fatalf("save %d: got %v", i, cs.Paths)
		}
	}
	expectNone(t, w, 3*realDebounce)
}

func TestRealNestedDir(t *testing.T) {
	root := mkdirs(t, t.TempDir())
	w := newRealWatcher(t, []Target{{Service: "a", Root: root}}, realDebounce)

	// mkdir -p then write at once: the file predates the watches on b and c.
	nested := filepath.Join(root, "a/b/c")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(nested, "f.txt")
	writeFile(t, f, "1")
	cs := expectChange(t, w)
	if !contains(cs.Paths, f) {
		t.Fatalf("file in a new nested dir not reported: %v", cs.Paths)
	}
	expectNone(t, w, 3*realDebounce)
	// Later writes in the new directory are seen: it is watched.
	g := filepath.Join(nested, "g.txt")
	writeFile(t, g, "2")
	cs = expectChange(t, w)
	if !reflect.DeepEqual(cs.Paths, []string{g}) {
		t.Fatalf("got %v", cs.Paths)
	}
}

func TestRealRemoveDir(t *testing.T) {
	skipIfNoInotify(t)
	root := mkdirs(t, t.TempDir(), "keep", "gone/x/y", "gone/z")
	writeFile(t, filepath.Join(root, "gone/x/y/f"), "1")
	base, _ := inotifyWatches(t)
	w := newRealWatcher(t, []Target{{Service: "a", Root: root}}, realDebounce)
	if n, _ := inotifyWatches(t); n-base != 6 {
		t.Fatalf("%d watches, want 6", n-base)
	}
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	cs := expectChange(t, w)
	if !contains(cs.Paths, filepath.Join(root, "gone")) {
		t.Fatalf("removal not reported: %v", cs.Paths)
	}
	expectNone(t, w, 3*realDebounce)
	if n, _ := inotifyWatches(t); n-base != 2 {
		t.Fatalf("%d watches after removing the tree, want 2 (root, keep)", n-base)
	}
	var watched int
	w.do(func() { watched = len(w.watched) })
	if watched != 2 {
		t.Fatalf("watcher thinks %d dirs are watched", watched)
	}
	// Move a directory away, out of the tree: its watches go too.
	mkdirs(t, root, "mv/sub")
	expectChange(t, w)
	if err := os.Rename(filepath.Join(root, "mv"), filepath.Join(t.TempDir(), "mv")); err != nil {
		t.Fatal(err)
	}
	expectChange(t, w)
	if n, _ := inotifyWatches(t); n-base != 2 {
		t.Fatalf("%d watches after moving a tree away, want 2", n-base)
	}
}

func TestRealBurst(t *testing.T) {
	root := mkdirs(t, t.TempDir(), "d0", "d1", "d2", "d3", "d4")
	// A generous quiet period: the burst must not look like two bursts on a loaded
	// machine.
	const debounce = 500 * time.Millisecond
	w := newRealWatcher(t, []Target{{Service: "a", Root: root}, {Service: "b", Root: mkdirs(t, t.TempDir())}}, debounce)
	want := make([]string, 0, 500)
	for i := range 500 {
		p := filepath.Join(root, fmt.Sprintf("d%d/f%03d.go", i%5, i))
		writeFile(t, p, "x")
		want = append(want, p)
	}
	sortStrings(want)
	cs := expectChange(t, w)
	if cs.Service != "a" || !reflect.DeepEqual(cs.Paths, want) {
		t.Fatalf("got %s with %d paths, want a with 500", cs.Service, len(cs.Paths))
	}
	expectNone(t, w, 3*realDebounce)
}

func TestRealIgnoredAndOutputs(t *testing.T) {
	skipIfNoInotify(t)
	root := mkdirs(t, t.TempDir(), "src", "testdata/deep", ".git/objects", "out/bin")
	svc := mkdirs(t, t.TempDir(), ".src")
	base, _ := inotifyWatches(t)
	w := newRealWatcher(t, []Target{{
		Service: "a", Root: root,
		Ignore:  []string{"testdata/", "*.md"},
		Outputs: []string{filepath.Join(root, "out"), filepath.Join(svc, ".src")},
		Files:   []string{filepath.Join(svc, "build.sh")},
	}}, realDebounce)
	if n, _ := inotifyWatches(t); n-base != 3 { // root, src, svc
		t.Fatalf("%d watches, want 3: ignored dirs must not be watched", n-base)
	}
	writeFile(t, filepath.Join(root, "testdata/deep/x"), "1")
	writeFile(t, filepath.Join(root, ".git/objects/ab"), "1")
	writeFile(t, filepath.Join(root, "out/bin/server"), "1")
	writeFile(t, filepath.Join(root, "README.md"), "1")
	writeFile(t, filepath.Join(root, "src/.main.go.swp"), "1")
	writeFile(t, filepath.Join(svc, ".src/copy.go"), "1")
	mkdirs(t, root, "out/new/dir", "testdata/new")
	// The build rewrites its output directory entirely.
	os.RemoveAll(filepath.Join(root, "out"))
	mkdirs(t, root, "out/bin")
	writeFile(t, filepath.Join(root, "out/bin/server"), "2")
	expectNone(t, w, 3*realDebounce)
	if n, _ := inotifyWatches(t); n-base != 3 {
		t.Fatalf("%d watches, want 3", n-base)
	}
	// The watcher still works.
	writeFile(t, filepath.Join(root, "src/main.go"), "1")
	if cs := expectChange(t, w); !reflect.DeepEqual(cs.Paths, []string{filepath.Join(root, "src/main.go")}) {
		t.Fatalf("got %v", cs.Paths)
	}
}

func TestRealCloseReleasesWatches(t *testing.T) {
	skipIfNoInotify(t)
	root := mkdirs(t, t.TempDir(), "a/b/c", "d", "e/f")
	svc := mkdirs(t, t.TempDir())
	baseW, baseI := inotifyWatches(t)
	baseFDs := countFDs(t)
	for range 3 { // repeated: no accumulation
		w, err := New([]Target{{Service: "a", Root: root, Files: []string{filepath.Join(svc, "Dockerfile")}}}, Options{Debounce: realDebounce})
		if err != nil {
			t.Fatal(err)
		}
		if n, i := inotifyWatches(t); n-baseW != 8 || i-baseI != 1 {
			t.Fatalf("%d watches in %d instances, want 8 in 1", n-baseW, i-baseI)
		}
		writeFile(t, filepath.Join(root, "a/b/c/x"), "1") // leave a pending change
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n, i := inotifyWatches(t); n != baseW || i != baseI {
			t.Fatalf("after Close: %d watches in %d instances, want %d in %d", n, i, baseW, baseI)
		}
		if n := countFDs(t); n != baseFDs {
			t.Fatalf("after Close: %d fds, want %d", n, baseFDs)
		}
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

func TestInotifyLimits(t *testing.T) {
	skipIfNoInotify(t)
	w, i, err := InotifyLimits()
	if err != nil {
		t.Fatal(err)
	}
	if w <= 0 || i <= 0 {
		t.Fatalf("watches %d instances %d", w, i)
	}
	withProcInotify(t, "", "")
	if _, _, err := InotifyLimits(); err == nil {
		t.Fatal("no error when the values cannot be read")
	}
}

// TestRealCheckoutOverFiveSeconds: a checkout writing 10,000 files over 5 s (never quiet
// for a debounce) into two services' trees gives exactly one change set per affected
// service, holding every file, emitted after the last write (the final tree); the third
// service gets none. Default options, real inotify.
func TestRealCheckoutOverFiveSeconds(t *testing.T) {
	skipIfNoInotify(t)
	a, b, c := mkdirs(t, t.TempDir()), mkdirs(t, t.TempDir()), mkdirs(t, t.TempDir())
	w, err := New([]Target{{Service: "a", Root: a}, {Service: "b", Root: b}, {Service: "c", Root: c}}, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const files, over = 10000, 5 * time.Second
	start := time.Now()
	want := map[string]int{}
	for i := range files {
		root, svc := a, "a"
		if i%3 == 0 {
			root, svc = b, "b"
		}
		dir := filepath.Join(root, fmt.Sprintf("pkg%02d", i%40))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%05d.go", i)), "package x\n")
		want[svc]++
		// Pace the writes over 5 s: 2,000 a second, never a quiet period.
		if ahead := time.Duration(i+1)*over/files - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	lastWrite := time.Now()
	got := map[string]ChangeSet{}
	for len(got) < 2 {
		cs := expectChange(t, w)
		if _, dup := got[cs.Service]; dup {
			t.Fatalf("a second change set for %s (a split checkout builds a half-written tree)", cs.Service)
		}
		if cs.At.Before(lastWrite) {
			t.Errorf("%s's change set emitted at %s, before the last write at %s", cs.Service, cs.At.Format("15:04:05.000"), lastWrite.Format("15:04:05.000"))
		}
		got[cs.Service] = cs
	}
	for svc, n := range want {
		files := 0
		for _, p := range got[svc].Paths {
			if strings.HasSuffix(p, ".go") {
				files++
			}
		}
		if files != n {
			t.Errorf("%s: change set holds %d files, want %d", svc, files, n)
		}
	}
	if _, ok := got["c"]; ok {
		t.Error("a change set for c, which the checkout did not touch")
	}
	select {
	case cs := <-w.Changes():
		t.Errorf("another change set for %s (%d paths) after the checkout: it was split", cs.Service, len(cs.Paths))
	case <-time.After(3 * realDebounce):
	}
}

// TestRealBuildToolOutputs: what gradle, maven or cargo write inside a source tree (build/
// and .gradle/ next to build.gradle, target/ next to pom.xml) is neither watched nor
// reported; a build/ folder that is no tool's output (a Go package) is a source.
func TestRealBuildToolOutputs(t *testing.T) {
	skipIfNoInotify(t)
	root := mkdirs(t, t.TempDir(), "java/build/classes", "java/.gradle/8.5", "rust/target/debug", "go/build")
	writeFile(t, filepath.Join(root, "java/build.gradle"), "apply plugin: 'java'\n")
	writeFile(t, filepath.Join(root, "rust/Cargo.toml"), "[package]\n")
	base, _ := inotifyWatches(t)
	w := newRealWatcher(t, []Target{{Service: "a", Root: root}}, realDebounce)
	if n, _ := inotifyWatches(t); n-base != 5 { // root, java, rust, go, go/build
		t.Errorf("%d watches, want 5: build tool outputs must not be watched", n-base)
	}
	for _, p := range []string{"java/build/classes/A.class", "java/.gradle/8.5/lock", "rust/target/debug/app"} {
		writeFile(t, filepath.Join(root, p), "1")
	}
	mkdirs(t, root, "java/build/tmp/new", "rust/target/release")
	writeFile(t, filepath.Join(root, "java/build/tmp/new/x"), "1")
	expectNone(t, w, 3*realDebounce)
	writeFile(t, filepath.Join(root, "go/build/build.go"), "package build\n")
	if cs := expectChange(t, w); !reflect.DeepEqual(cs.Paths, []string{filepath.Join(root, "go/build/build.go")}) {
		t.Fatalf("got %v, want the Go package's file", cs.Paths)
	}
}
