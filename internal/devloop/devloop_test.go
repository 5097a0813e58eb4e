package devloop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSteps records calls; builds block on a gate when one is set so tests can send
// changes while a build is running.
type fakeSteps struct {
	mu         sync.Mutex
	builds     map[string]int
	replaced   []string // service=image
	reloads    int
	current    map[string]string
	buildErr   map[string]error
	badImages  map[string]bool
	replaceErr error // returned by every Replace when set
	gate       chan struct{}
	started    chan string
	version    int
}

func newFake() *fakeSteps {
	return &fakeSteps{builds: map[string]int{}, current: map[string]string{}, buildErr: map[string]error{}, badImages: map[string]bool{}, started: make(chan string, 100)}
}

func (f *fakeSteps) Build(ctx context.Context, svc string) (BuildResult, error) {
	f.started <- svc
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return BuildResult{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds[svc]++
	if err := f.buildErr[svc]; err != nil {
		return BuildResult{}, err
	}
	f.version++
	return BuildResult{Image: svc + ":" + strings.Repeat("v", f.version), Built: true, ScriptDur: time.Millisecond}, nil
}

func (f *fakeSteps) Replace(_ context.Context, svc, image string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replaced = append(f.replaced, svc+"="+image)
	if f.replaceErr != nil {
		return f.replaceErr
	}
	if f.badImages[image] {
		return errors.New("container unhealthy")
	}
	f.current[svc] = image
	return nil
}

func (f *fakeSteps) Current(_ context.Context, svc string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current[svc], nil
}

func (f *fakeSteps) Reload(context.Context) (Diff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	return Diff{Changed: []string{"a"}}, nil
}

func (f *fakeSteps) IsConfig(p string) bool { return strings.HasSuffix(p, ".job") }

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Report(e Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) kinds(svc string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Service == svc || svc == "*" {
			out = append(out, e.Kind)
		}
	}
	return out
}

func run(t *testing.T, f *fakeSteps, feed func(ch chan<- ChangeSet)) *recorder {
	t.Helper()
	rec := &recorder{}
	l := &Loop{Steps: f, Reporter: rec}
	ch := make(chan ChangeSet)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), ch) }()
	feed(ch)
	close(ch)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not finish")
	}
	return rec
}

func TestChangeBuildsAndReplacesOnlyThatService(t *testing.T) {
	f := newFake()
	f.current["a"], f.current["b"] = "a:old", "b:old"
	rec := run(t, f, func(ch chan<- ChangeSet) {
		ch <- ChangeSet{Service: "a", Paths: []string{"/src/a/main.go"}}
	})
	if f.builds["a"] != 1 || f.builds["b"] != 0 {
		t.Fatalf("builds = %v, want a once and b never", f.builds)
	}
	if got := strings.Join(f.replaced, ","); got != "a=a:v" {
		t.Fatalf("replaced = %s", got)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "change,ready" {
		t.Fatalf("events = %s", got)
	}
}

func TestChangesDuringBuildQueueExactlyOneMoreBuild(t *testing.T) {
	f := newFake()
	f.gate = make(chan struct{})
	run(t, f, func(ch chan<- ChangeSet) {
		ch <- ChangeSet{Service: "a", Paths: []string{"1"}}
		<-f.started // first build is running
		for i := 0; i < 5; i++ {
			ch <- ChangeSet{Service: "a", Paths: []string{"2", "3"}}
		}
		// Run handles one send at a time, so once this (reload) send is received the five
		// above have been queued.
		ch <- ChangeSet{Service: "a", Paths: []string{"a.job"}}
		f.gate <- struct{}{} // finish build 1
		<-f.started          // the queued build starts
		f.gate <- struct{}{}
	})
	if f.builds["a"] != 2 {
		t.Fatalf("builds = %d, want 2 (one running + exactly one queued)", f.builds["a"])
	}
}

func TestBuildFailureKeepsPreviousContainer(t *testing.T) {
	f := newFake()
	f.current["a"] = "a:old"
	f.buildErr["a"] = errors.New("main.go:3: syntax error")
	rec := run(t, f, func(ch chan<- ChangeSet) { ch <- ChangeSet{Service: "a", Paths: []string{"x"}} })
	if len(f.replaced) != 0 {
		t.Fatalf("replaced %v after a failed build", f.replaced)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "change,build-failed" {
		t.Fatalf("events = %s", got)
	}
	if f.current["a"] != "a:old" {
		t.Fatalf("current = %s", f.current["a"])
	}
}

func TestUnhealthyReplacementRollsBack(t *testing.T) {
	f := newFake()
	f.current["a"] = "a:old"
	f.badImages["a:v"] = true
	rec := run(t, f, func(ch chan<- ChangeSet) { ch <- ChangeSet{Service: "a", Paths: []string{"x"}} })
	if got := strings.Join(f.replaced, ","); got != "a=a:v,a=a:old" {
		t.Fatalf("replaced = %s, want new then rollback", got)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "change,unhealthy,rolled-back" {
		t.Fatalf("events = %s", got)
	}
}

func TestSameImageIsNotReplaced(t *testing.T) {
	f := newFake()
	f.current["a"] = "a:v"
	rec := run(t, f, func(ch chan<- ChangeSet) { ch <- ChangeSet{Service: "a", Paths: []string{"README"}} })
	if len(f.replaced) != 0 {
		t.Fatalf("replaced %v although the image did not change", f.replaced)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "change,unchanged" {
		t.Fatalf("events = %s", got)
	}
}

func TestConfigChangeReloadsInsteadOfBuilding(t *testing.T) {
	f := newFake()
	rec := run(t, f, func(ch chan<- ChangeSet) { ch <- ChangeSet{Service: "a", Paths: []string{"/ws/services/a/a.job"}} })
	if f.reloads != 1 || f.builds["a"] != 0 {
		t.Fatalf("reloads=%d builds=%d", f.reloads, f.builds["a"])
	}
	if got := strings.Join(rec.kinds("*"), ","); got != "reloaded" {
		t.Fatalf("events = %s", got)
	}
}

func TestReadyEventTimings(t *testing.T) {
	f := newFake()
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(100 * time.Millisecond); return now }
	rec := &recorder{}
	l := &Loop{Steps: f, Reporter: rec, Now: clock}
	ch := make(chan ChangeSet, 1)
	ch <- ChangeSet{Service: "a", Paths: []string{"x"}, At: time.Unix(1000, 0)}
	close(ch)
	if err := l.Run(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	var ready *Event
	for i := range rec.events {
		if rec.events[i].Kind == "ready" {
			ready = &rec.events[i]
		}
	}
	if ready == nil {
		t.Fatalf("no ready event: %+v", rec.events)
	}
	if ready.Detect <= 0 || ready.Start <= 0 || ready.Total < ready.Detect+ready.Start {
		t.Fatalf("timings inconsistent: %+v", *ready)
	}
	var b strings.Builder
	(&TextReporter{W: &b}).Report(*ready)
	if !strings.HasPrefix(b.String(), "a ready in ") || !strings.Contains(b.String(), "build.sh") {
		t.Fatalf("text line = %q", b.String())
	}
}

// TestStackTakenDownStopsTheLoop: a Replace that finds the stack taken down (clocal down in
// another terminal) ends the loop with ErrStackGone after one taken-down event; no roll back
// is tried (it would bring one service of a removed stack back).
func TestStackTakenDownStopsTheLoop(t *testing.T) {
	f := newFake()
	f.current["a"] = "a:old"
	f.replaceErr = fmt.Errorf("dev: %w", ErrStackGone)
	rec := &recorder{}
	l := &Loop{Steps: f, Reporter: rec}
	ch := make(chan ChangeSet)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), ch) }()
	ch <- ChangeSet{Service: "a", Paths: []string{"x"}}
	waitGone(t, done)
	if got := strings.Join(f.replaced, ","); got != "a=a:v" {
		t.Errorf("replaced = %s, want the one replacement and no roll back", got)
	}
	if got := strings.Join(rec.kinds("*"), ","); got != "change,taken-down" {
		t.Errorf("events = %s", got)
	}
	var buf strings.Builder
	(&TextReporter{W: &buf}).Report(rec.events[len(rec.events)-1])
	if !strings.Contains(buf.String(), "dev: the stack was taken down; stopped watching") {
		t.Errorf("text: %q", buf.String())
	}
}

// TestStopEndsRun: Stop (a supervisor's) ends Run, reports once, and works before Run too.
func TestStopEndsRun(t *testing.T) {
	for _, before := range []bool{false, true} {
		rec := &recorder{}
		l := &Loop{Steps: newFake(), Reporter: rec}
		gone := fmt.Errorf("p: %w", ErrStackGone)
		if before {
			l.Stop(gone)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run(context.Background(), make(chan ChangeSet)) }()
		l.Stop(gone)
		l.Stop(gone)
		waitGone(t, done)
		if got := strings.Join(rec.kinds("*"), ","); got != "taken-down" {
			t.Errorf("before=%v: events %s, want one taken-down", before, got)
		}
	}
}

// waitGone waits for Run's result on done and wants ErrStackGone.
func waitGone(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStackGone) {
			t.Fatalf("Run = %v, want ErrStackGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
