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
	"sort"
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
	Kind      string    `json:"kind"`             // change, ready, unchanged, build-failed, unhealthy, rolled-back, reloaded, restored, reconnected, taken-down, error; action, action-done, action-failed (the status page's buttons); waiting (built, waits for its dependencies to be replaced first), blocked (not replaced or not judged: dependencies not ready; no rollback), restarted (a file it mounts changed)
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
	// Reason says why a change cycle runs without a file change: ReasonStale, ReasonRetry.
	Reason string `json:"reason,omitempty"`
	// Waiting names the dependencies a built service waits for (kind waiting).
	Waiting []string `json:"waiting,omitempty"`
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
		switch e.Reason {
		case ReasonStale:
			fmt.Fprintf(r.W, "%s: sources changed while nothing watched, rebuilding\n", e.Service)
		case ReasonRetry:
			fmt.Fprintf(r.W, "%s: still on an older image after a failure, trying again\n", e.Service)
		default:
			fmt.Fprintf(r.W, "%s: %d file(s) changed, rebuilding\n", e.Service, e.Paths)
		}
	case "waiting":
		fmt.Fprintf(r.W, "%s: built; replaced once %s %s\n", e.Service, strings.Join(e.Waiting, ", "), isAre(len(e.Waiting)))
	case "blocked":
		fmt.Fprintf(r.W, "%s: kept as is, not its own failure (retried on the next change): %s\n", e.Service, e.Error)
	case "restarted":
		fmt.Fprintf(r.W, "%s: restarted in %s (a file it mounts changed; no rebuild)\n", e.Service, d(e.Total))
	case "ready":
		fmt.Fprintf(r.W, "%s ready in %s (build.sh %s, image %s, start+health %s)\n",
			e.Service, d(e.Total), d(e.Script), d(e.ImageTime), d(e.Start))
	case "unchanged":
		// Nothing to say: the files build what runs (--json and the status page have it).
	case "build-failed":
		fmt.Fprintf(r.W, "%s: build failed, previous container still serving:\n%s\n", e.Service, indent(e.Error))
	case "unhealthy":
		fmt.Fprintf(r.W, "%s: new container did not become healthy: %s\n", e.Service, e.Error)
	case "rolled-back":
		fmt.Fprintf(r.W, "%s: rolled back to %s\n", e.Service, e.Image)
	case "reloaded":
		if e.Diff != nil && e.Diff.Empty() {
			fmt.Fprintln(r.W, "workspace files re-read: no service changed")
		} else if e.Diff != nil {
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

func isAre(n int) string {
	if n == 1 {
		return "is ready"
	}
	return "are ready"
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

// Optional Steps: a Steps implementation may also implement these; the loop uses them when
// it does.
type (
	// Dependencies orders replacements: a service is replaced only after every cycle in
	// flight of the services it depends on (transitively) has finished, so a dependency is
	// replaced and ready before its dependents are replaced and judged.
	Dependencies interface {
		DependsOn(service string) []string
	}
	// Converger finds what no change set will report: the services whose running image
	// differs from what their files build now (files changed before the watcher was
	// ready: during the initial builds, the start, the watcher's own start).
	Converger interface {
		Stale(ctx context.Context) ([]string, error)
	}
	// Restarter applies a change of a file a service mounts (configs:) by restarting the
	// service, without a rebuild.
	Restarter interface {
		IsMountedConfig(service, path string) bool
		Restart(ctx context.Context, service string) error
	}
	// Planner says, without building, which image a service's files build now (ok false
	// when it cannot tell cheaply, or a rebuild was asked for): a change set that leaves
	// that image what runs (a save with the same content, a touch, a checkout back and
	// forth) ends in one "unchanged" event, with no "change" event and nothing built.
	Planner interface {
		Planned(ctx context.Context, service string) (image string, ok bool)
	}
)

// ErrDependencies is matched by a Replace error when the service was not replaced, or not
// judged, because its dependencies were not ready: not its own failure, so the loop keeps
// what runs (no rollback) and retries the service on the next change.
var ErrDependencies = errors.New("dependencies not ready")

// Why a cycle runs without a change set from the watcher (Event.Reason).
const (
	ReasonStale = "stale" // its files changed while nothing watched (Converger)
	ReasonRetry = "retry" // it was left on an older image by an earlier failure

	reasonChange = "change" // internal: the next cycle has file changes
)

// Loop consumes change sets and keeps containers current.
type Loop struct {
	Steps    Steps
	Reporter Reporter
	Now      func() time.Time

	mu      sync.Mutex
	running map[string]bool
	pending map[string]*ChangeSet
	reason  map[string]string // why the next cycle of a service runs (Reason*), if not a change
	stale   map[string]string // services left on an older image by a failure -> what failed
	idle    chan struct{}     // closed (and replaced) whenever a service's cycles end
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
// independently: a slow build of one service never delays another (the builder bounds how
// many build at once); replacements follow the dependency order.
//
// Run first asks a Converger which services do not run what their files build now and
// rebuilds those: started once the watcher is ready, this catches every edit the watcher
// could not see, so no edit is lost whatever its moment.
func (l *Loop) Run(ctx context.Context, changes <-chan ChangeSet) error {
	if l.Now == nil {
		l.Now = time.Now
	}
	l.mu.Lock()
	l.running = map[string]bool{}
	l.pending = map[string]*ChangeSet{}
	l.reason = map[string]string{}
	l.stale = map[string]string{}
	l.idle = make(chan struct{})
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
	if c, ok := l.Steps.(Converger); ok {
		stale, err := c.Stale(ctx)
		if err != nil && ctx.Err() == nil {
			l.report(Event{Kind: "error", Error: "compare running images with the sources: " + err.Error()})
		}
		for _, s := range stale {
			l.submitReason(ctx, ChangeSet{Service: s, At: l.Now()}, ReasonStale)
		}
	}
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

// submit starts a cycle for cs, or merges it into the one queued behind a running build;
// then retries the services an earlier failure left on an older image.
func (l *Loop) submit(ctx context.Context, cs ChangeSet) {
	l.submitReason(ctx, cs, "")
	l.mu.Lock()
	var retry []string
	for s := range l.stale {
		if s != cs.Service {
			retry = append(retry, s)
		}
	}
	l.mu.Unlock()
	sort.Strings(retry)
	for _, s := range retry {
		l.submitReason(ctx, ChangeSet{Service: s, At: l.Now()}, ReasonRetry)
	}
}

func (l *Loop) submitReason(ctx context.Context, cs ChangeSet, reason string) {
	key := cs.Service
	if l.isConfigChange(cs) {
		key = "" // reloads are serialized under the empty key
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" {
		// The reason of the next cycle: a file change wins over a retry or a stale image.
		if _, has := l.reason[key]; reason == "" {
			l.reason[key] = reasonChange
		} else if !has {
			l.reason[key] = reason
		}
		if reason == ReasonRetry {
			delete(l.stale, key) // retried once per change; a new failure marks it again
		}
	}
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
			l.endLocked(key)
			delete(l.pending, key)
			l.mu.Unlock()
			return
		}
		began := l.Now()
		if key == "" {
			l.reload(ctx)
		} else {
			l.cycle(ctx, cs)
		}
		l.mu.Lock()
		next := l.pending[key]
		delete(l.pending, key)
		if key == "" && next != nil && !next.At.IsZero() && next.At.Before(began) {
			// The same edit of a shared file reported for every service: the reload that
			// just ran read the workspace after it.
			next = nil
		}
		if next == nil {
			l.endLocked(key)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		cs = *next
	}
}

// endLocked marks key idle and wakes the cycles waiting for their dependencies (mu held).
func (l *Loop) endLocked(key string) {
	delete(l.running, key)
	close(l.idle)
	l.idle = make(chan struct{})
}

// waitDependencies waits until no cycle of svc's dependencies is in flight; it reports the
// wait once. False when ctx ended.
func (l *Loop) waitDependencies(ctx context.Context, svc string) bool {
	d, ok := l.Steps.(Dependencies)
	if !ok {
		return true
	}
	deps := d.DependsOn(svc)
	reported := false
	for {
		l.mu.Lock()
		var busy []string
		for _, dep := range deps {
			if dep != svc && l.running[dep] {
				busy = append(busy, dep)
			}
		}
		idle := l.idle
		l.mu.Unlock()
		if len(busy) == 0 {
			return true
		}
		if !reported {
			sort.Strings(busy)
			l.report(Event{Kind: "waiting", Service: svc, Waiting: busy})
			reported = true
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return false
		}
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

// configOnly reports whether every path of cs is a file the service mounts (configs:).
func (l *Loop) configOnly(cs ChangeSet) (Restarter, bool) {
	r, ok := l.Steps.(Restarter)
	if !ok || len(cs.Paths) == 0 {
		return nil, false
	}
	for _, p := range cs.Paths {
		if !r.IsMountedConfig(cs.Service, p) {
			return nil, false
		}
	}
	return r, true
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

// markStale records (or clears, with what == "") that svc was left on an older image.
func (l *Loop) markStale(svc, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if what == "" {
		delete(l.stale, svc)
	} else {
		l.stale[svc] = what
	}
}

// cycle runs one build → replace for a service (or a restart when only files it mounts
// changed).
func (l *Loop) cycle(ctx context.Context, cs ChangeSet) {
	svc := cs.Service
	start := l.Now()
	l.mu.Lock()
	reason := l.reason[svc]
	delete(l.reason, svc)
	l.mu.Unlock()
	if reason == reasonChange {
		reason = ""
	}
	ev := Event{Service: svc, Paths: len(cs.Paths)}
	if !cs.At.IsZero() && start.After(cs.At) {
		ev.Detect = Millis(start.Sub(cs.At))
	}
	if reason == "" && l.plainlyCurrent(ctx, cs) {
		l.markStale(svc, "")
		ev.Kind, ev.Image = "unchanged", l.current(ctx, svc)
		l.report(ev)
		return
	}
	l.report(Event{Kind: "change", Service: svc, Paths: len(cs.Paths), Reason: reason})
	if r, ok := l.configOnly(cs); ok {
		l.restart(ctx, r, svc, start, ev)
		return
	}
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
		l.markStale(svc, "")
		if r, ok := l.Steps.(Restarter); ok && l.hasMountedConfig(r, cs) {
			l.restart(ctx, r, svc, start, ev) // the image is current; a file it mounts changed
			return
		}
		ev.Kind = "unchanged"
		l.report(ev)
		return
	}
	if !l.waitDependencies(ctx, svc) {
		return
	}
	replaceStart := l.Now()
	if err := l.Steps.Replace(ctx, svc, res.Image); err != nil {
		if ctx.Err() != nil || l.stopIfGone(err) {
			return
		}
		if errors.Is(err, ErrDependencies) {
			// Not this service's failure: nothing is rolled back; retried on the next change.
			l.markStale(svc, "dependencies not ready")
			l.report(Event{Kind: "blocked", Service: svc, Image: res.Image, Error: err.Error()})
			return
		}
		l.markStale(svc, "unhealthy")
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
	l.markStale(svc, "")
	end := l.Now()
	ev.Kind = "ready"
	ev.Start = Millis(end.Sub(replaceStart))
	ev.Total = Millis(end.Sub(start) + time.Duration(ev.Detect))
	l.report(ev)
}

// plainlyCurrent reports whether a Planner says cs leaves the service's image what runs, and
// cs holds no file the service mounts (that restarts it).
func (l *Loop) plainlyCurrent(ctx context.Context, cs ChangeSet) bool {
	p, ok := l.Steps.(Planner)
	if !ok {
		return false
	}
	if r, ok := l.Steps.(Restarter); ok && l.hasMountedConfig(r, cs) {
		return false
	}
	img, ok := p.Planned(ctx, cs.Service)
	return ok && img != "" && img == l.current(ctx, cs.Service)
}

func (l *Loop) current(ctx context.Context, svc string) string {
	img, _ := l.Steps.Current(ctx, svc)
	return img
}

func (l *Loop) hasMountedConfig(r Restarter, cs ChangeSet) bool {
	for _, p := range cs.Paths {
		if r.IsMountedConfig(cs.Service, p) {
			return true
		}
	}
	return false
}

// restart applies a change of files svc mounts: the container restarts (no rebuild) and
// is waited for.
func (l *Loop) restart(ctx context.Context, r Restarter, svc string, start time.Time, ev Event) {
	if err := r.Restart(ctx, svc); err != nil {
		if ctx.Err() != nil || l.stopIfGone(err) {
			return
		}
		l.report(Event{Kind: "error", Service: svc, Error: "restart after a config change: " + err.Error()})
		return
	}
	end := l.Now()
	ev.Kind = "restarted"
	ev.Start = Millis(end.Sub(start))
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
