package devloop

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/watch"
)

// checkoutSteps builds like a gradle or maven build.sh: it counts the sources it finds (the
// tree it builds) and writes its outputs inside the source tree (build/ and .gradle/ next
// to build.gradle, target/ next to pom.xml), with new content every time.
type checkoutSteps struct {
	*fakeSteps
	roots map[string]string
	mu    sync.Mutex
	seen  map[string][]int // service -> sources found by each build
}

func (c *checkoutSteps) Build(ctx context.Context, svc string) (BuildResult, error) {
	root := c.roots[svc]
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			n++
		}
		return nil
	})
	stamp := []byte(time.Now().Format(time.RFC3339Nano))
	for _, out := range []string{"build/classes/App.class", ".gradle/8.5/fileHashes.lock", "target/classes/App.class"} {
		p := filepath.Join(root, out)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return BuildResult{}, err
		}
		if err := os.WriteFile(p, stamp, 0o644); err != nil {
			return BuildResult{}, err
		}
	}
	c.mu.Lock()
	c.seen[svc] = append(c.seen[svc], n)
	c.mu.Unlock()
	return c.fakeSteps.Build(ctx, svc)
}

// TestCheckoutIsOneBuildPerService: a checkout writing 10,000 files over 5 s into two of
// three services' trees, through the real watcher (default options), is one build of each
// affected service, which sees the whole final tree; the third is not built; the builds'
// outputs written inside the source trees start no further build.
func TestCheckoutIsOneBuildPerService(t *testing.T) {
	base := t.TempDir()
	roots := map[string]string{}
	var targets []watch.Target
	for _, s := range []string{"a", "b", "c"} {
		roots[s] = filepath.Join(base, s)
		if err := os.MkdirAll(roots[s], 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"build.gradle", "pom.xml"} {
			if err := os.WriteFile(filepath.Join(roots[s], f), []byte("x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		targets = append(targets, watch.Target{Service: s, Root: roots[s]})
	}
	w, err := watch.New(targets, watch.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f := newFake()
	steps := &checkoutSteps{fakeSteps: f, roots: roots, seen: map[string][]int{}}
	rec := &recorder{}
	l := &Loop{Steps: steps, Reporter: rec}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, w.Changes()) }()

	const files, over = 10000, 5 * time.Second
	want := map[string]int{}
	start := time.Now()
	for i := range files {
		svc := "a"
		if i%3 == 0 {
			svc = "b"
		}
		dir := filepath.Join(roots[svc], "src", fmt.Sprintf("pkg%02d", i%40))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d.go", i)), []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want[svc]++
		if ahead := time.Duration(i+1)*over/files - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	// Wait for both builds, then for long enough that a build loop or a second half of a
	// split checkout would have shown (several stream quiet periods).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		f.mu.Lock()
		n := f.builds["a"] + f.builds["b"]
		f.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5 * watch.StreamQuietMax)
	cancel()
	<-done

	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range []string{"a", "b"} {
		if f.builds[s] != 1 {
			t.Errorf("%s built %d times, want once (sources seen by each build: %v)", s, f.builds[s], steps.seen[s])
		} else if got := steps.seen[s][0]; got != want[s] {
			t.Errorf("%s's build saw %d sources, want the final tree's %d", s, got, want[s])
		}
	}
	if f.builds["c"] != 0 {
		t.Errorf("c built %d times, the checkout did not touch it", f.builds["c"])
	}
	if strings.Contains(strings.Join(rec.kinds("*"), ","), "error") {
		t.Errorf("events %v", rec.kinds("*"))
	}
}
