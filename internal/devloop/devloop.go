// Package devloop turns debounced change sets into "build, then replace one container".
//
// The loop is deliberately small and synchronous per service: a service is either idle or
// building; changes that arrive while it builds are merged into exactly one follow-up
// build. A build failure or an unhealthy new container never leaves the developer without a
// service: the build step runs before anything is touched, and a replacement that does not
// become healthy is rolled back to the previous image.
package devloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/clocal-dev/clocal/internal/watch"
)

// ChangeSet is what the watcher reports for one service after one quiet period.
type ChangeSet = watch.ChangeSet

// BuildResult is what a build step reports.
type BuildResult struct {
	Image     string
	Built     bool // false: an image with this content hash already existed
	ScriptDur time.Duration
	ImageDur  time.Duration
}

// Steps is what the loop drives. The real implementation builds with build.sh and the
// Engine API and replaces through the compose library; tests use a fake.
type Steps interface {
	// Build builds the service's image from the current sources.
	Build(ctx context.Context, service string) (BuildResult, error)
	// Replace recreates the service's container from image and waits for it to be healthy.
	Replace(ctx context.Context, service, image string) error
	// Current returns the image the service's container runs now ("" if none).
	Current(ctx context.Context, service string) (string, error)
	// Reload re-derives the project after a job file, service file or profile changed and
	// applies the difference; it returns the services it added, removed and changed.
	Reload(ctx context.Context) (Diff, error)
	// IsConfig reports whether a path is a project definition file (job, service file,
	// profile, workspace settings) rather than a build input.
	IsConfig(path string) bool
}

// ErrStackGone is returned (wrapped) by Steps and by a supervisor when the stack the loop
// keeps current was taken down by another command (clocal down): the loop stops instead of
// bringing single services of a removed stack back.
var ErrStackGone = errors.New("the stack was taken down")

// Diff is what a reload changed.
type Diff struct {
	Added, Removed, Changed []string
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// Event is one thing the loop reports; --json writes these, one per line.
type Event struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service,omitempty"`
	Kind      string    `json:"kind"`             // change, ready, unchanged, build-failed, unhealthy, rolled-back, reloaded, restored, reconnected, taken-down, error; action, action-done, action-failed (the status page's buttons)
	Action    string    `json:"action,omitempty"` // restart, rebuild, stop, start: what an action event asked for
	Paths     int       `json:"paths,omitempty"`
	Image     string    `json:"image,omitempty"`
	Total     Millis    `json:"total_ms,omitempty"`
	Detect    Millis    `json:"detect_ms,omitempty"` // change set emitted (after the debounce) to build start: queueing behind a running build
	Script    Millis    `json:"build_sh_ms,omitempty"`
	ImageTime Millis    `json:"image_ms,omitempty"`
	Start     Millis    `json:"start_health_ms,omitempty"`
	Error     string    `json:"error,omitempty"`
	Diff      *Diff     `json:"diff,omitempty"`
}

// Millis is a duration written as milliseconds in JSON.
type Millis time.Duration

// MarshalJSON writes the duration in milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.1f", float64(time.Duration(m))/float64(time.Millisecond))), nil
}

// UnmarshalJSON reads milliseconds (what MarshalJSON writes), so logged events read back.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*m = Millis(ms * float64(time.Millisecond))
	return nil
}

// Reporter receives events.
type Reporter interface{ Report(Event) }

// TextReporter writes one human line per event.
type TextReporter struct {
	W  io.Writer
	mu sync.Mutex
}

// Report prints e as one line.
func (r *TextReporter) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := func(m Millis) string { return time.Duration(m).Round(10 * time.Millisecond).String() }
	switch e.Kind {
	case "change":
		fmt.Fprintf(r.W, "%s: %d file(s) changed, rebuilding\n", e.Service, e.Paths)
	case "ready":
		fmt.Fprintf(r.W, "%s ready in %s (build.sh %s, image %s, start+health %s)\n",
			e.Service, d(e.Total), d(e.Script), d(e.ImageTime), d(e.Start))
	case "unchanged":
		fmt.Fprintf(r.W, "%s: content unchanged (%s), container kept\n", e.Service, e.Image)
	case "build-failed":
		fmt.Fprintf(r.W, "%s: build failed, previous container still serving:\n%s\n", e.Service, indent(e.Error))
	case "unhealthy":
		fmt.Fprintf(r.W, "%s: new container did not become healthy: %s\n", e.Service, e.Error)
	case "rolled-back":
		fmt.Fprintf(r.W, "%s: rolled back to %s\n", e.Service, e.Image)
	case "reloaded":
		if e.Diff != nil {
			fmt.Fprintf(r.W, "project reloaded: added %v, removed %v, changed %v\n", e.Diff.Added, e.Diff.Removed, e.Diff.Changed)
		}
	case "restored":
		fmt.Fprintf(r.W, "%s: container was stopped or removed outside clocal; bringing it back\n", e.Service)
	case "reconnected":
		fmt.Fprintf(r.W, "Docker daemon reachable again; watching\n")
	case "taken-down":
		fmt.Fprintf(r.W, "%s; stopped watching (clocal up starts it again)\n", e.Error)
	case "error":
		fmt.Fprintf(r.W, "%s: %s\n", orDash(e.Service), e.Error)
	case "action":
		fmt.Fprintf(r.W, "%s: %s (from the status page)\n", e.Service, e.Action)
	case "action-done":
		fmt.Fprintf(r.W, "%s: %s done\n", e.Service, e.Action)
	case "action-failed":
		fmt.Fprintf(r.W, "%s: %s failed: %s\n", e.Service, e.Action, e.Error)
	}
}

// JSONReporter writes one JSON event per line.
type JSONReporter struct {
	W  io.Writer
	mu sync.Mutex
}

// Report writes e as a JSON line.
func (r *JSONReporter) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = json.NewEncoder(r.W).Encode(e)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// Loop consumes change sets and keeps containers current.
type Loop struct {
	Steps    Steps
	Reporter Reporter
	Now      func() time.Time

	mu      sync.Mutex
	running map[string]bool
	pending map[string]*ChangeSet
	wg      sync.WaitGroup
	gone    chan struct{} // closed by Stop
	stopped bool
}

// Stop ends Run with ErrStackGone after reporting err (a "taken-down" event) once; it is
// how a supervisor that found the stack taken down ends the loop. Safe to call before Run
// and more than once.
func (l *Loop) Stop(err error) {
	l.mu.Lock()
	if l.gone == nil {
		l.gone = make(chan struct{})
	}
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	close(l.gone)
	l.mu.Unlock()
	l.report(Event{Time: time.Now(), Kind: "taken-down", Error: err.Error()}) // not l.Now: Stop may run before Run sets it
}

// stopIfGone stops the loop when a step found the stack taken down.
func (l *Loop) stopIfGone(err error) bool {
	if errors.Is(err, ErrStackGone) {
		l.Stop(err)
		return true
	}
	return false
}

// Run processes change sets until ctx is done or changes is closed. Each service builds
// independently: a slow build of one service never delays another.
func (l *Loop) Run(ctx context.Context, changes <-chan ChangeSet) error {
	if l.Now == nil {
		l.Now = time.Now
	}
	l.mu.Lock()
	l.running = map[string]bool{}
	l.pending = map[string]*ChangeSet{}
	if l.gone == nil {
		l.gone = make(chan struct{})
	}
	gone := l.gone
	l.mu.Unlock()
	// Cycles in flight end with the loop only when the stack is gone; when changes closes
	// they finish first.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer l.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gone:
			cancel()
			return ErrStackGone
		case cs, ok := <-changes:
			if !ok {
				return nil
			}
			l.submit(ctx, cs)
		}
	}
}

// submit starts a cycle for cs, or merges it into the one queued behind a running build.
func (l *Loop) submit(ctx context.Context, cs ChangeSet) {
	key := cs.Service
	if l.isConfigChange(cs) {
		key = "" // reloads are serialized under the empty key
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[key] {
		if p := l.pending[key]; p != nil {
			merged := p.Merge(cs)
			l.pending[key] = &merged
		} else {
			c := cs
			c.Paths = append([]string(nil), cs.Paths...)
			l.pending[key] = &c
		}
		return
	}
	l.running[key] = true
	l.wg.Add(1)
	go l.work(ctx, key, cs)
}

func (l *Loop) work(ctx context.Context, key string, cs ChangeSet) {
	defer l.wg.Done()
	for {
		if ctx.Err() != nil {
			l.mu.Lock()
			delete(l.running, key)
			delete(l.pending, key)
			l.mu.Unlock()
			return
		}
		if key == "" {
			l.reload(ctx)
		} else {
			l.cycle(ctx, cs)
		}
		l.mu.Lock()
		next := l.pending[key]
		delete(l.pending, key)
		if next == nil {
			delete(l.running, key)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		cs = *next
	}
}

func (l *Loop) isConfigChange(cs ChangeSet) bool {
	for _, p := range cs.Paths {
		if l.Steps.IsConfig(p) {
			return true
		}
	}
	return false
}

func (l *Loop) reload(ctx context.Context) {
	diff, err := l.Steps.Reload(ctx)
	if l.stopIfGone(err) {
		return
	}
	if err != nil {
		l.report(Event{Kind: "error", Error: "reload: " + err.Error()})
		return
	}
	l.report(Event{Kind: "reloaded", Diff: &diff})
}

// cycle runs one build → replace for a service.
func (l *Loop) cycle(ctx context.Context, cs ChangeSet) {
	svc := cs.Service
	start := l.Now()
	ev := Event{Service: svc, Paths: len(cs.Paths)}
	if !cs.At.IsZero() && start.After(cs.At) {
		ev.Detect = Millis(start.Sub(cs.At))
	}
	l.report(Event{Kind: "change", Service: svc, Paths: len(cs.Paths)})
	prev, _ := l.Steps.Current(ctx, svc)
	res, err := l.Steps.Build(ctx, svc)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		ev.Kind, ev.Error = "build-failed", err.Error()
		l.report(ev)
		return
	}
	ev.Image, ev.Script, ev.ImageTime = res.Image, Millis(res.ScriptDur), Millis(res.ImageDur)
	if res.Image == prev && prev != "" {
		ev.Kind = "unchanged"
		l.report(ev)
		return
	}
	replaceStart := l.Now()
	if err := l.Steps.Replace(ctx, svc, res.Image); err != nil {
		if ctx.Err() != nil || l.stopIfGone(err) {
			return
		}
		l.report(Event{Kind: "unhealthy", Service: svc, Image: res.Image, Error: err.Error()})
		if prev == "" {
			return
		}
		if rerr := l.Steps.Replace(ctx, svc, prev); rerr != nil {
			l.report(Event{Kind: "error", Service: svc, Error: fmt.Sprintf("roll back to %s: %v", prev, rerr)})
			return
		}
		l.report(Event{Kind: "rolled-back", Service: svc, Image: prev})
		return
	}
	end := l.Now()
	ev.Kind = "ready"
	ev.Start = Millis(end.Sub(replaceStart))
	ev.Total = Millis(end.Sub(start) + time.Duration(ev.Detect))
	l.report(ev)
}

func (l *Loop) report(e Event) {
	if e.Time.IsZero() {
		e.Time = l.Now()
	}
	if l.Reporter != nil {
		l.Reporter.Report(e)
	}
}

// ErrStopped is returned by Steps implementations when the loop is shutting down.
var ErrStopped = errors.New("dev loop stopped")
