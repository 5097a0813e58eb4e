package build_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/build"
)

// layout is a service folder plus its source folder in a temp workspace:
//
//	<root>/services/svc/{build.sh,Dockerfile,.dockerignore,config.txt,notes.tmp,.src/…}
//	<root>/apps/svc/{go.mod,main.go,README.md,pkg/util.go,.git/HEAD}
type layout struct {
	root, svc, src string
	spec           build.Spec
}

func newLayout(t testing.TB) *layout {
	t.Helper()
	root := t.TempDir()
	l := &layout{root: root, svc: filepath.Join(root, "services", "svc"), src: filepath.Join(root, "apps", "svc")}
	writeTree(t, l.svc, map[string]string{
		"build.sh":           "echo build\n",
		"Dockerfile":         "FROM scratch\nCOPY .src/target/server /app/server\n",
		".dockerignore":      "*.tmp\n",
		"config.txt":         "a=1\n",
		"notes.tmp":          "scratch notes\n",
		".src/target/server": "binary v1",
		".src/.version":      "test\n",
	})
	writeTree(t, l.src, map[string]string{
		"go.mod":      "module example.com/svc\n",
		"main.go":     "package main\nfunc main() {}\n",
		"README.md":   "# svc\n",
		"pkg/util.go": "package pkg\n",
		".git/HEAD":   "ref: refs/heads/main\n",
	})
	writeTree(t, filepath.Join(root, "libs"), map[string]string{"lib.go": "package lib\n"})
	l.spec = build.Spec{
		Service:    "svc",
		Dir:        l.svc,
		Script:     filepath.Join(l.svc, "build.sh"),
		Dockerfile: filepath.Join(l.svc, "Dockerfile"),
		Context:    l.svc,
		Source:     l.src,
		Env:        map[string]string{"GOFLAGS": "-trimpath"},
		Ignore:     []string{"*.md"},
		Outputs:    []string{filepath.Join(l.svc, ".src") + "/"},
	}
	return l
}

// age sets every mtime under root an hour back, like a checkout that is not
// being edited, so that the stat cache may trust the files (see racyWindow).
func age(t testing.TB, root string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustHash(t testing.TB, b *build.Builder, s build.Spec) string {
	t.Helper()
	h, err := b.Hash(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 64 {
		t.Fatalf("hash %q is not 64 hex digits", h)
	}
	return h
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHashChanges(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, l *layout)
		change bool
	}{
		{"nothing", func(*testing.T, *layout) {}, false},
		{"source file content", func(t *testing.T, l *layout) {
			write(t, filepath.Join(l.src, "main.go"), "package main\nfunc main() { println() }\n")
		}, true},
		{"source file added", func(t *testing.T, l *layout) { write(t, filepath.Join(l.src, "pkg/new.go"), "package pkg\n") }, true},
		{"source file removed", func(t *testing.T, l *layout) { must(t, os.Remove(filepath.Join(l.src, "pkg/util.go"))) }, true},
		{"source file renamed", func(t *testing.T, l *layout) {
			must(t, os.Rename(filepath.Join(l.src, "pkg/util.go"), filepath.Join(l.src, "pkg/util2.go")))
		}, true},
		{"source file mode", func(t *testing.T, l *layout) { must(t, os.Chmod(filepath.Join(l.src, "main.go"), 0o755)) }, true},
		{"source symlink added", func(t *testing.T, l *layout) { must(t, os.Symlink("main.go", filepath.Join(l.src, "link.go"))) }, true},
		{"input folder added", func(t *testing.T, l *layout) { l.spec.Inputs = []string{filepath.Join(l.root, "libs")} }, true},
		{"input file changed", func(t *testing.T, l *layout) {
			l.spec.Inputs = []string{filepath.Join(l.root, "libs")}
			before := mustHash(t, &build.Builder{}, l.spec)
			write(t, filepath.Join(l.root, "libs", "lib.go"), "package lib // v2\n")
			if mustHash(t, &build.Builder{}, l.spec) == before {
				t.Fatal("changing an input file kept the hash")
			}
		}, true},
		{"single input file changed (QA-5)", func(t *testing.T, l *layout) {
			f := filepath.Join(l.root, "libs", "lib.go")
			l.spec.Inputs = []string{f}
			before := mustHash(t, &build.Builder{}, l.spec)
			write(t, f, "package lib // v2\n")
			if mustHash(t, &build.Builder{}, l.spec) == before {
				t.Fatal("changing a single-file input kept the hash")
			}
		}, true},
		{"build.sh", func(t *testing.T, l *layout) { write(t, l.spec.Script, "echo build v2\n") }, true},
		{"Dockerfile", func(t *testing.T, l *layout) {
			write(t, l.spec.Dockerfile, "FROM scratch\nCOPY .src/target/server /server\n")
		}, true},
		{"context file", func(t *testing.T, l *layout) { write(t, filepath.Join(l.svc, "config.txt"), "a=2\n") }, true},
		{"config mounted at run time", func(t *testing.T, l *layout) {
			l.spec.Runtime = []string{filepath.Join(l.svc, "config.txt")} // no longer an input
			before := mustHash(t, &build.Builder{}, l.spec)
			write(t, filepath.Join(l.svc, "config.txt"), "a=2\n")
			if mustHash(t, &build.Builder{}, l.spec) != before {
				t.Fatal("changing a config mounted at run time changed the hash")
			}
		}, true},
		{"gradle writes build/ and .gradle/ in the source", func(t *testing.T, l *layout) {
			write(t, filepath.Join(l.src, "build.gradle"), "apply plugin: 'java'\n") // a source: changes the hash
			before := mustHash(t, &build.Builder{}, l.spec)
			write(t, filepath.Join(l.src, "build/classes/A.class"), "x")
			write(t, filepath.Join(l.src, ".gradle/8.5/lock"), "x")
			if mustHash(t, &build.Builder{}, l.spec) != before {
				t.Fatal("gradle's outputs changed the hash: every build would trigger the next")
			}
		}, true},
		{"a build/ folder that is no tool's output is a source", func(t *testing.T, l *layout) {
			write(t, filepath.Join(l.src, "build/build.go"), "package build\n")
		}, true},
		{".dockerignore", func(t *testing.T, l *layout) { write(t, filepath.Join(l.svc, ".dockerignore"), "*.tmp\n*.bak\n") }, true},
		{"env value", func(t *testing.T, l *layout) { l.spec.Env["GOFLAGS"] = "" }, true},
		{"env added", func(t *testing.T, l *layout) { l.spec.Env["X"] = "1" }, true},
		{"labels", func(t *testing.T, l *layout) { l.spec.Labels = map[string]string{"team": "a"} }, true},
		{"touch only", func(t *testing.T, l *layout) {
			now := time.Now()
			must(t, os.Chtimes(filepath.Join(l.src, "main.go"), now, now))
		}, false},
		{"ignored source file", func(t *testing.T, l *layout) { write(t, filepath.Join(l.src, "README.md"), "# changed\n") }, false},
		{"ignored source file added", func(t *testing.T, l *layout) { write(t, filepath.Join(l.src, "NOTES.md"), "x") }, false},
		{"ignored file in new source dir", func(t *testing.T, l *layout) {
			l.spec.Ignore = []string{"**/*.md"} // same files ignored as "*.md" so far
			write(t, filepath.Join(l.src, "docs/x.md"), "x")
		}, false},
		{".git in source", func(t *testing.T, l *layout) { write(t, filepath.Join(l.src, ".git/HEAD"), "ref: refs/heads/other\n") }, false},
		{".git in context", func(t *testing.T, l *layout) { write(t, filepath.Join(l.svc, ".git/index"), "x") }, false},
		{"output changed", func(t *testing.T, l *layout) {
			write(t, filepath.Join(l.svc, ".src/target/server"), "binary v2, bigger")
		}, false},
		{"output added", func(t *testing.T, l *layout) { write(t, filepath.Join(l.svc, ".src/out.txt"), "built") }, false},
		{"dockerignored context file", func(t *testing.T, l *layout) { write(t, filepath.Join(l.svc, "notes.tmp"), "other notes") }, false},
		{"ignore patterns are not hashed", func(t *testing.T, l *layout) { l.spec.Ignore = []string{"*.md", "*.txt"} }, false},
		{"workspace moved", func(t *testing.T, l *layout) {
			moved := filepath.Join(t.TempDir(), "ws")
			must(t, os.Rename(l.root, moved))
			l.relocate(moved)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLayout(t)
			age(t, l.root)
			b := &build.Builder{CacheDir: filepath.Join(l.root, ".clocal", "cache")}
			before := mustHash(t, b, l.spec)
			if again := mustHash(t, b, l.spec); again != before {
				t.Fatalf("hash not stable: %s then %s", before, again)
			}
			tt.mutate(t, l)
			after := mustHash(t, b, l.spec)
			if changed := after != before; changed != tt.change {
				t.Fatalf("hash changed = %v, want %v (%s -> %s)", changed, tt.change, before, after)
			}
			// A builder without any cache agrees.
			if fresh := mustHash(t, &build.Builder{}, l.spec); fresh != after {
				t.Fatalf("cached hash %s != uncached hash %s", after, fresh)
			}
		})
	}
}

func (l *layout) relocate(root string) {
	re := func(p string) string { return filepath.Join(root, strings.TrimPrefix(p, l.root)) }
	l.svc, l.src = re(l.svc), re(l.src)
	l.spec.Dir, l.spec.Script, l.spec.Dockerfile = re(l.spec.Dir), re(l.spec.Script), re(l.spec.Dockerfile)
	l.spec.Context, l.spec.Source = re(l.spec.Context), re(l.spec.Source)
	for i, o := range l.spec.Outputs {
		l.spec.Outputs[i] = re(o)
	}
	l.root = root
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHashStableAcrossBuilders(t *testing.T) {
	l := newLayout(t)
	cache := filepath.Join(l.root, ".clocal", "cache")
	h1 := mustHash(t, &build.Builder{CacheDir: cache}, l.spec)
	h2 := mustHash(t, &build.Builder{CacheDir: cache}, l.spec)
	h3 := mustHash(t, &build.Builder{}, l.spec)
	if h1 != h2 || h1 != h3 {
		t.Fatalf("hashes differ: %s %s %s", h1, h2, h3)
	}
	// Map iteration order must not leak into the hash.
	l.spec.Env = map[string]string{"A": "1", "B": "2", "C": "3", "D": "4"}
	want := mustHash(t, &build.Builder{}, l.spec)
	for range 20 {
		if got := mustHash(t, &build.Builder{}, l.spec); got != want {
			t.Fatalf("env order changes the hash: %s vs %s", got, want)
		}
	}
}

// TestStatCacheAvoidsReading proves that unchanged files are not read again:
// (1) the content-read counter stays at zero on a warm run, also for a new
// Builder loading the cache from disk; (2) a file whose content is changed
// behind the cache's back (same size, inode and mtime restored) keeps its
// cached hash — which could not happen if the file were read.
func TestStatCacheAvoidsReading(t *testing.T) {
	l := newLayout(t)
	age(t, l.root)
	cache := filepath.Join(l.root, ".clocal", "cache")

	start := build.ContentReads()
	h1 := mustHash(t, &build.Builder{CacheDir: cache}, l.spec)
	if n := build.ContentReads() - start; n == 0 {
		t.Fatal("cold run read no files")
	}

	b2 := &build.Builder{CacheDir: cache} // loads the cache from disk
	start = build.ContentReads()
	if h := mustHash(t, b2, l.spec); h != h1 {
		t.Fatalf("warm hash %s != cold hash %s", h, h1)
	}
	if n := build.ContentReads() - start; n != 0 {
		t.Fatalf("warm run read %d files, want 0", n)
	}

	// Same size, same inode (rewritten in place), mtime restored.
	main := filepath.Join(l.src, "main.go")
	fi, err := os.Stat(main)
	must(t, err)
	old, err := os.ReadFile(main)
	must(t, err)
	forged := strings.Replace(string(old), "main()", "mein()", 1)
	if len(forged) != len(old) {
		t.Fatal("test bug: size changed")
	}
	must(t, os.WriteFile(main, []byte(forged), 0o644))
	must(t, os.Chtimes(main, fi.ModTime(), fi.ModTime()))
	if h := mustHash(t, &build.Builder{CacheDir: cache}, l.spec); h != h1 {
		t.Fatal("the stat cache was not used: the forged file was read")
	}
	if h := mustHash(t, &build.Builder{}, l.spec); h == h1 {
		t.Fatal("test bug: the forged content hashes like the original")
	}

	// The cache file is complete JSON and no temp files were left behind.
	entries, err := os.ReadDir(cache)
	must(t, err)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(build.StatCachePath(cache, "svc")) {
		t.Fatalf("cache dir holds %v", entries)
	}
	data, err := os.ReadFile(build.StatCachePath(cache, "svc"))
	must(t, err)
	if !json.Valid(data) {
		t.Fatal("cache file is not valid JSON")
	}
}

// The stat cache's folders are owner-only like the rest of .clocal/, also when the cache is
// what creates .clocal/ (a config or graph run first in a fresh workspace).
func TestStatCacheFoldersOwnerOnly(t *testing.T) {
	l := newLayout(t)
	age(t, l.root)
	state := filepath.Join(l.root, ".clocal")
	cache := filepath.Join(state, "cache")
	mustHash(t, &build.Builder{CacheDir: cache}, l.spec)
	if _, err := os.Stat(build.StatCachePath(cache, "svc")); err != nil {
		t.Fatalf("no cache file written: %v", err)
	}
	for _, dir := range []string{state, cache} {
		fi, err := os.Stat(dir)
		must(t, err)
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %o, want owner-only (0700)", dir, perm)
		}
	}
}

// A file modified within the racy window is never trusted from the cache.
func TestStatCacheRacyFilesAreRead(t *testing.T) {
	l := newLayout(t)
	age(t, l.root)
	b := &build.Builder{}
	mustHash(t, b, l.spec)
	write(t, filepath.Join(l.src, "main.go"), "package main\nfunc main() {}\n// fresh\n")
	mustHash(t, b, l.spec)
	start := build.ContentReads()
	mustHash(t, b, l.spec)
	if n := build.ContentReads() - start; n != 1 {
		t.Fatalf("read %d files, want exactly the freshly written one", n)
	}
}

func TestHashCorruptCacheIsIgnored(t *testing.T) {
	l := newLayout(t)
	cache := filepath.Join(l.root, "cache")
	want := mustHash(t, &build.Builder{}, l.spec)
	write(t, build.StatCachePath(cache, "svc"), `{"format": "clocal-build-hash/v1", "entries": {`)
	if got := mustHash(t, &build.Builder{CacheDir: cache}, l.spec); got != want {
		t.Fatalf("hash with corrupt cache %s, want %s", got, want)
	}
}

func TestSpecValidation(t *testing.T) {
	l := newLayout(t)
	tests := []struct {
		name   string
		mutate func(*build.Spec)
		want   string
	}{
		{"upper-case service", func(s *build.Spec) { s.Service = "Svc" }, "invalid service name"},
		{"empty service", func(s *build.Spec) { s.Service = "" }, "invalid service name"},
		{"relative input", func(s *build.Spec) { s.Inputs = []string{"libs"} }, "must be an absolute path"},
		{"relative dockerfile", func(s *build.Spec) { s.Dockerfile = "Dockerfile" }, "must be an absolute path"},
		{"missing context", func(s *build.Spec) { s.Context = "" }, "Context is required"},
		{"missing dockerfile file", func(s *build.Spec) { s.Dockerfile = filepath.Join(l.svc, "nope") }, "no such file"},
		{"bad ignore pattern", func(s *build.Spec) { s.Ignore = []string{"["} }, "pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := l.spec
			tt.mutate(&s)
			_, err := (&build.Builder{}).Hash(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkHash hashes a 20,000-file source tree (200 dirs x 100 files of
// 1-4 KiB). cold: no stat cache, every file is read (from the page cache);
// warm: the Builder's in-memory stat cache, only lstat; warm-disk: a new
// Builder each time, loading the JSON cache from CacheDir first.
//
//	go test -run '^$' -bench BenchmarkHash -benchtime 10x ./internal/build/
func BenchmarkHash(b *testing.B) {
	l := newLayout(b)
	files := map[string]string{}
	for d := range 200 {
		for f := range 100 {
			files[fmt.Sprintf("tree/d%03d/f%03d.go", d, f)] = strings.Repeat(fmt.Sprintf("// %d %d\n", d, f), 100+(d*f)%300)
		}
	}
	writeTree(b, l.src, files)
	age(b, l.root)
	cache := filepath.Join(l.root, ".clocal", "cache")

	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			mustHash(b, &build.Builder{}, l.spec)
		}
	})
	b.Run("warm", func(b *testing.B) {
		bl := &build.Builder{CacheDir: cache}
		mustHash(b, bl, l.spec)
		start := build.ContentReads()
		for b.Loop() {
			mustHash(b, bl, l.spec)
		}
		if n := build.ContentReads() - start; n != 0 {
			b.Fatalf("warm runs read %d files", n)
		}
	})
	b.Run("warm-disk", func(b *testing.B) {
		mustHash(b, &build.Builder{CacheDir: cache}, l.spec)
		for b.Loop() {
			mustHash(b, &build.Builder{CacheDir: cache}, l.spec)
		}
	})
}
