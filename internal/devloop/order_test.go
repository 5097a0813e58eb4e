package devloop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// orderSteps adds the optional interfaces to fakeSteps: dependencies, a converger, config
// restarts, and a hook run inside Replace (to hold a replacement).
type orderSteps struct {
	*fakeSteps
	deps      map[string][]string
	staleList []string
	configs   map[string]bool // paths that are mounted configs
	onReplace func(svc, image string)
	replaceIs func(svc, image string) error // per-call Replace error (nil: fake's)

	mu       sync.Mutex
	log      []string // "replace-start a", "replace-end a", "restart a"
	restarts []string
}

func (o *orderSteps) DependsOn(s string) []string { return o.deps[s] }

func (o *orderSteps) Stale(context.Context) ([]string, error) { return o.staleList, nil }

func (o *orderSteps) IsMountedConfig(_, p string) bool { return o.configs[p] }

func (o *orderSteps) Restart(_ context.Context, svc string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.restarts = append(o.restarts, svc)
	return nil
}

func (o *orderSteps) note(s string) { o.mu.Lock(); o.log = append(o.log, s); o.mu.Unlock() }

func (o *orderSteps) Replace(ctx context.Context, svc, image string) error {
	o.note("replace-start " + svc)
	if o.onReplace != nil {
		o.onReplace(svc, image)
	}
	defer o.note("replace-end " + svc)
	if o.replaceIs != nil {
		if err := o.replaceIs(svc, image); err != nil {
			o.fakeSteps.mu.Lock()
			o.fakeSteps.replaced = append(o.fakeSteps.replaced, svc+"="+image)
			o.fakeSteps.mu.Unlock()
			return err
		}
	}
	return o.fakeSteps.Replace(ctx, svc, image)
}

func runOrder(t *testing.T, o *orderSteps, feed func(ch chan<- ChangeSet, rec *recorder)) *recorder {
	t.Helper()
	rec := &recorder{}
	l := &Loop{Steps: o, Reporter: rec}
	ch := make(chan ChangeSet)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), ch) }()
	feed(ch, rec)
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

// TestDependencyReplacedFirst: a shared edit rebuilds a service and its dependent at once;
// the dependent, although built first, is replaced only once its dependency's replacement
// has ended (and says it waits).
func TestDependencyReplacedFirst(t *testing.T) {
	f := newFake()
	f.current["db"], f.current["web"], f.current["api"] = "db:old", "web:old", "api:old"
	hold := make(chan struct{})
	o := &orderSteps{fakeSteps: f, deps: map[string][]string{"web": {"api", "db"}, "api": {"db"}}}
	o.onReplace = func(svc, _ string) {
		if svc == "db" {
			<-hold
		}
	}
	rec := runOrder(t, o, func(ch chan<- ChangeSet, _ *recorder) {
		ch <- ChangeSet{Service: "db", Paths: []string{"/shared/x.go"}}
		ch <- ChangeSet{Service: "web", Paths: []string{"/shared/x.go"}}
		ch <- ChangeSet{Service: "api", Paths: []string{"/shared/x.go"}}
		// web and api are built and wait; db's replacement is held.
		deadline := time.Now().Add(5 * time.Second)
		for {
			rec := func() []string {
				o.mu.Lock()
				defer o.mu.Unlock()
				return append([]string(nil), o.log...)
			}()
			if slices.Contains(rec, "replace-start db") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("db never replaced: %v", rec)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // give web and api every chance to jump ahead
		close(hold)
	})
	o.mu.Lock()
	defer o.mu.Unlock()
	pos := map[string]int{}
	for i, e := range o.log {
		pos[e] = i
	}
	if pos["replace-start web"] < pos["replace-end db"] || pos["replace-start api"] < pos["replace-end db"] || pos["replace-start web"] < pos["replace-end api"] {
		t.Errorf("replacement order %v: dependents must start after their dependencies end", o.log)
	}
	if k := rec.kinds("web"); !slices.Contains(k, "waiting") || k[len(k)-1] != "ready" {
		t.Errorf("web events %v: want a waiting event, then ready", k)
	}
}

// TestNotOwnFailureIsNotRolledBack: a replacement that fails because the service's
// dependencies are not ready keeps what runs (no rollback); the service is stale and
// retried on the next change of another service, as is one rolled back for its own failure.
func TestNotOwnFailureIsNotRolledBack(t *testing.T) {
	f := newFake()
	f.current["web"], f.current["bad"], f.current["other"] = "web:old", "bad:old", "other:old"
	var calls sync.Map
	o := &orderSteps{fakeSteps: f}
	o.replaceIs = func(svc, image string) error {
		n, _ := calls.LoadOrStore(svc, new(int))
		*n.(*int)++
		switch {
		case svc == "web" && *n.(*int) == 1:
			return fmt.Errorf("replace: %w", ErrDependencies)
		case svc == "bad" && image != "bad:old" && *n.(*int) == 1:
			return errors.New("unhealthy: 3 readiness checks failed")
		}
		return nil
	}
	rec := runOrder(t, o, func(ch chan<- ChangeSet, rec *recorder) {
		ch <- ChangeSet{Service: "web", Paths: []string{"w"}}
		ch <- ChangeSet{Service: "bad", Paths: []string{"b"}}
		waitFor(t, func() bool {
			return slices.Contains(rec.kinds("web"), "blocked") && slices.Contains(rec.kinds("bad"), "rolled-back")
		})
		ch <- ChangeSet{Service: "other", Paths: []string{"o"}}
	})
	web, bad := rec.kinds("web"), rec.kinds("bad")
	if strings.Join(web, ",") != "change,blocked,change,ready" {
		t.Errorf("web events %v: want blocked (no rollback), then retried and ready", web)
	}
	if strings.Join(bad, ",") != "change,unhealthy,rolled-back,change,ready" {
		t.Errorf("bad events %v: want rolled back, then retried and ready", bad)
	}
	for _, e := range rec.events {
		if e.Kind == "change" && e.Service != "other" && e.Paths == 0 && e.Reason != ReasonRetry {
			t.Errorf("retry change event without its reason: %+v", e)
		}
	}
	if f.current["web"] == "web:old" || f.current["bad"] == "bad:old" {
		t.Errorf("after the retries: %v; want both on new images", f.current)
	}
}

// TestStaleServicesRebuiltAtStart: services whose running image is not what their files
// build now are rebuilt as soon as the loop starts, without any change set.
func TestStaleServicesRebuiltAtStart(t *testing.T) {
	f := newFake()
	f.current["a"], f.current["b"] = "a:old", "b:old"
	o := &orderSteps{fakeSteps: f, staleList: []string{"b"}}
	rec := runOrder(t, o, func(chan<- ChangeSet, *recorder) {})
	if f.builds["b"] != 1 || f.builds["a"] != 0 {
		t.Errorf("builds %v: want b once", f.builds)
	}
	if len(rec.events) == 0 || rec.events[0].Kind != "change" || rec.events[0].Reason != ReasonStale {
		t.Errorf("events %+v: want a change with reason stale first", rec.events)
	}
}

// TestMountedConfigRestartsWithoutRebuild: a change of only files the service mounts
// restarts it (no build); a change mixing them with sources whose image did not change
// restarts it too.
func TestMountedConfigRestartsWithoutRebuild(t *testing.T) {
	f := newFake()
	f.current["a"] = "a:v"
	o := &orderSteps{fakeSteps: f, configs: map[string]bool{"/ws/services/a/app.json": true}}
	rec := runOrder(t, o, func(ch chan<- ChangeSet, rec *recorder) {
		ch <- ChangeSet{Service: "a", Paths: []string{"/ws/services/a/app.json"}}
		waitFor(t, func() bool { return slices.Contains(rec.kinds("a"), "restarted") })
		ch <- ChangeSet{Service: "a", Paths: []string{"/ws/services/a/app.json", "/src/README"}}
	})
	if f.builds["a"] != 1 || len(f.replaced) != 0 || len(o.restarts) != 2 {
		t.Errorf("builds %v, replaced %v, restarts %v: want no build for the config alone, one (unchanged) build for the mix, two restarts", f.builds, f.replaced, o.restarts)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "change,restarted,change,restarted" {
		t.Errorf("events %s", got)
	}
}

// waitFor polls cond (a hang guard, not a timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// plannerSteps adds a Planner to fakeSteps: planned[svc] is what its files build now.
type plannerSteps struct {
	*fakeSteps
	planned map[string]string
}

func (p *plannerSteps) Planned(_ context.Context, svc string) (string, bool) {
	img, ok := p.planned[svc]
	return img, ok
}

// TestNothingToSayWhenFilesBuildWhatRuns (QA-9): a change set whose files build what runs
// (same content saved again, a touch) is one "unchanged" event: no "change", no build, and
// nothing in the text output; a real change still says "rebuilding".
func TestNothingToSayWhenFilesBuildWhatRuns(t *testing.T) {
	f := newFake()
	f.current["a"], f.current["b"] = "a:v1", "b:v1"
	p := &plannerSteps{fakeSteps: f, planned: map[string]string{"a": "a:v1", "b": "b:v2"}}
	rec := &recorder{}
	var text strings.Builder
	l := &Loop{Steps: p, Reporter: multi{rec, &TextReporter{W: &text}}}
	ch := make(chan ChangeSet)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), ch) }()
	ch <- ChangeSet{Service: "a", Paths: []string{"/src/a/main.go"}}
	ch <- ChangeSet{Service: "b", Paths: []string{"/src/b/main.go"}}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.kinds("a"), ","); got != "unchanged" || f.builds["a"] != 0 {
		t.Errorf("a: events %s, %d builds; want unchanged alone and no build", got, f.builds["a"])
	}
	if got := strings.Join(rec.kinds("b"), ","); got != "change,ready" || f.builds["b"] != 1 {
		t.Errorf("b: events %s, %d builds", got, f.builds["b"])
	}
	if strings.Contains(text.String(), "a:") || strings.Contains(text.String(), "a ") {
		t.Errorf("text output mentions a, which nothing happened to:\n%s", text.String())
	}
	if !strings.Contains(text.String(), "b: 1 file(s) changed, rebuilding") {
		t.Errorf("text output:\n%s", text.String())
	}
}

// reloadSteps blocks each Reload until release gets a value.
type reloadSteps struct {
	*fakeSteps
	inReload chan struct{}
	release  chan struct{}
}

func (r *reloadSteps) Reload(ctx context.Context) (Diff, error) {
	r.inReload <- struct{}{}
	<-r.release
	return r.fakeSteps.Reload(ctx)
}

// TestSharedFileEditIsOneReload (QA-9): one edit of a workspace file every service watches
// arrives as one change set per service; the reload reads it once: the change sets queued
// behind it, written before it began, do not run it again. An edit saved while it runs does.
func TestSharedFileEditIsOneReload(t *testing.T) {
	f := newFake()
	r := &reloadSteps{fakeSteps: f, inReload: make(chan struct{}), release: make(chan struct{})}
	rec := &recorder{}
	l := &Loop{Steps: r, Reporter: rec}
	ch := make(chan ChangeSet)
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background(), ch) }()
	at := time.Now()
	ch <- ChangeSet{Service: "a", Paths: []string{"/ws/a.job"}, At: at}
	<-r.inReload
	for _, s := range []string{"b", "c", "d"} {
		ch <- ChangeSet{Service: s, Paths: []string{"/ws/a.job"}, At: at}
	}
	r.release <- struct{}{}
	// A second edit, saved after the first reload began: one more reload.
	ch <- ChangeSet{Service: "a", Paths: []string{"/ws/a.job"}, At: time.Now()}
	<-r.inReload
	r.release <- struct{}{}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.reloads != 2 {
		t.Fatalf("%d reloads for two edits (the first reported for 4 services), want 2", f.reloads)
	}
	if got := strings.Join(rec.kinds("*"), ","); got != "reloaded,reloaded" {
		t.Errorf("events %s", got)
	}
}

type multi []Reporter

func (m multi) Report(e Event) {
	for _, r := range m {
		r.Report(e)
	}
}
