package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// StackOptions configure a StackSource.
type StackOptions struct {
	// Targets are the stack's targets (nil: the ones it was started with).
	Targets []string
	// WaitTimeout bounds the health wait of an action (default 5 minutes).
	WaitTimeout time.Duration
	// Dev and Trigger are the dev loop of a watch running in this process (up --watch
	// --ui): a rebuild goes through it. Without them the page runs its own loop on demand.
	Dev     *stack.Dev
	Trigger func(devloop.ChangeSet)
	// External says a watch in this process will Attach its dev loop (up --watch --ui):
	// until it does, a rebuild waits for it instead of starting a loop of the page's own.
	External bool
	// Echo also receives the page's own events (the terminal of up --watch --ui).
	Echo devloop.Reporter
	// Poll is how often the stack's folder (event log, builds, state) is looked at
	// (default 500ms).
	Poll time.Duration
}

// StackSource is the Source of a stack of a workspace: containers from the engine,
// addresses from the stack's Endpoints, builds and events from the stack's records, and
// actions through the stack's service operations and the dev loop.
type StackSource struct {
	o StackOptions

	mu        sync.Mutex
	st        stack.Stack // a private copy: a watch in this process reloads its own
	stamp     time.Time   // state.Updated the workspace was loaded for
	daemonErr string
	last      Snapshot
	started   map[string]time.Time // container ID → StartedAt
	restarts  map[string]int       // service → starts seen (after the first)
	seen      map[string]bool      // service → a start is known
	policy    map[string]int       // container ID → Docker's RestartCount
	stale     map[string]bool      // container IDs to inspect again
	model     model                // the plan and graph of the last snapshot
	ctx       context.Context      // Watch's: the life of the page
	loopDone  chan struct{}
	waiters   map[chan devloop.Event]string
}

// model is the trimmed stack's plan, selection and graph for one workspace (as loaded),
// stack state and targets: a snapshot with none of them changed (after a container
// event, say) reuses it instead of converting the workspace again.
type model struct {
	ws      *workspace.Workspace
	updated time.Time
	targets string
	plan    *convert.Plan
	sel     *workspace.Selection
	graph   *workspace.Graph
}

// modelFor returns the plan, selection and graph of the view's stack for targets.
func (s *StackSource) modelFor(v stack.Stack, updated time.Time, targets []string) (*convert.Plan, *workspace.Selection, *workspace.Graph, error) {
	key := strings.Join(targets, "\x00")
	s.mu.Lock()
	m := s.model
	s.mu.Unlock()
	if m.ws == v.WS && m.updated.Equal(updated) && m.targets == key && m.plan != nil {
		return m.plan, m.sel, m.graph, nil
	}
	plan, sel, err := v.PlanFor(targets)
	if err != nil {
		return nil, nil, nil, err
	}
	m = model{ws: v.WS, updated: updated, targets: key, plan: plan, sel: sel}
	if g, err := v.WS.Graph(targets); err == nil {
		m.graph = g
	}
	s.mu.Lock()
	s.model = m
	s.mu.Unlock()
	return m.plan, m.sel, m.graph, nil
}

// NewStackSource returns the source of st.
func NewStackSource(st *stack.Stack, o StackOptions) *StackSource {
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 5 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	s := &StackSource{o: o, st: *st, started: map[string]time.Time{}, restarts: map[string]int{},
		seen: map[string]bool{}, policy: map[string]int{}, stale: map[string]bool{}, waiters: map[chan devloop.Event]string{},
		ctx: context.Background()}
	s.st.Out = discard{} // lock waits show as a running action, not as printed lines
	if state, ok := s.st.LoadState(); ok {
		s.stamp = state.Updated
	}
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// view returns a copy of the stack to work on without holding the lock.
func (s *StackSource) view() stack.Stack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Snapshot implements Source.
func (s *StackSource) Snapshot(ctx context.Context) (Snapshot, error) {
	v := s.view()
	state, up := v.LoadState()
	if up && !state.Updated.Equal(s.stamp) {
		// Something changed the stack (a reload by a watch, an up): read the workspace
		// again, so a new service or edge shows.
		if ws, err := workspace.Load(v.WS.Root); err == nil {
			s.mu.Lock()
			s.st.WS, s.stamp = ws, state.Updated
			s.mu.Unlock()
			v.WS = ws
		}
	}
	targets := s.o.Targets
	if len(targets) == 0 {
		targets = state.Targets
	}
	snap := Snapshot{Project: v.Name, Targets: targets, Up: up, Services: []Service{}}
	if len(targets) == 0 {
		return snap, nil
	}
	plan, sel, graph, err := s.modelFor(v, state.Updated, targets)
	if err != nil {
		s.mu.Lock()
		last := s.last
		s.mu.Unlock()
		if last.Project != "" {
			last.Up = up
			return last, err // the last services, and why they are not current
		}
		return snap, err
	}
	snap.Graph = graph
	held := map[string]bool{}
	for _, n := range state.Stopped {
		held[n] = true
	}
	requested := map[string]bool{}
	for _, r := range sel.Requested {
		requested[r] = true
	}
	ctrs, err := v.Engine.Ps(ctx, v.Name, engine.PsOptions{All: true, Quick: true})
	if err != nil {
		s.mu.Lock()
		s.daemonErr = err.Error()
		last := s.last
		s.mu.Unlock()
		last.Daemon, last.Up, last.Graph = err.Error(), up, snap.Graph
		if last.Project == "" {
			last.Project, last.Targets, last.Services = snap.Project, snap.Targets, snap.Services
		}
		return last, nil
	}
	eps, err := v.Endpoints(ctx, plan)
	if err != nil {
		eps = nil
	}
	s.inspect(ctx, v, ctrs)
	builds := v.BuildRecords()
	pins, _ := v.Pins()
	// The support services of the plan: pause services owning a shared host's network
	// namespace, routers standing for a host whose jobs run in several namespaces.
	kinds := map[string]string{}
	for _, g := range plan.Groups {
		if g.Pause {
			kinds[g.Name] = "host"
		}
	}
	for _, r := range plan.Routers {
		kinds[r.Name] = "router"
	}
	byService := map[string][]engine.Container{}
	for _, c := range ctrs {
		byService[c.Service] = append(byService[c.Service], c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range plan.Services() {
		row := Service{Name: name, Kind: "service", State: "missing", Requested: requested[name], Held: held[name]}
		if ws := v.WS.Services[name]; ws != nil {
			row.Jobs, row.Hosts = ws.JobNames(), ws.Hosts
			_, row.Built = stack.BuildSpec(v.WS, ws)
		} else {
			row.Kind = kinds[name]
		}
		if cs := byService[name]; len(cs) > 0 {
			c := cs[len(cs)-1]
			for _, x := range cs { // the running one, if several
				if x.State == "running" {
					c = x
				}
			}
			row.Container, row.State, row.Health, row.Status, row.Image = c.Name, c.State, c.Health, c.Status, c.Image
			if c.State == "exited" || c.State == "dead" {
				row.ExitCode = c.ExitCode
			}
			row.Started = s.started[c.ID]
			if !row.Started.IsZero() {
				s.seen[name] = true
			}
			row.Restarts = s.restarts[name] + s.policy[c.ID]
		}
		if p, ok := pins[name]; ok {
			row.Pinned, row.PinnedSince = p.Image, p.Since
		}
		for _, e := range eps {
			if e.Service == name {
				row.Addresses = append(row.Addresses, Address{Port: e.Port, URL: e.URL})
			}
		}
		if b, ok := builds[name]; ok {
			row.Build = &Build{Time: b.Time, Duration: ms(b.Duration), Script: ms(b.Script), Image: ms(b.ImageTime),
				Built: b.Built, OK: b.OK, Error: b.Error, Tail: b.Tail}
		}
		snap.Services = append(snap.Services, row)
	}
	s.daemonErr = ""
	s.last = snap
	return snap, nil
}

func ms(m devloop.Millis) float64 { return float64(time.Duration(m)) / float64(time.Millisecond) }

// inspect reads the start time and Docker's restart count of containers not seen yet or
// (re)started since: the list the engine gives has neither.
func (s *StackSource) inspect(ctx context.Context, v stack.Stack, ctrs []engine.Container) {
	if v.Docker == nil {
		return
	}
	var todo []string
	s.mu.Lock()
	for _, c := range ctrs {
		if _, ok := s.started[c.ID]; !ok || s.stale[c.ID] {
			todo = append(todo, c.ID)
		}
	}
	s.mu.Unlock()
	for _, id := range todo {
		in, err := v.Docker.ContainerInspect(ctx, id)
		if err != nil || in.State == nil {
			continue
		}
		started, _ := time.Parse(time.RFC3339Nano, in.State.StartedAt)
		s.mu.Lock()
		s.started[id] = started
		if in.ContainerJSONBase != nil {
			s.policy[id] = in.RestartCount
		}
		delete(s.stale, id)
		s.mu.Unlock()
	}
}

// Watch implements Source: container events from the daemon (resubscribing, and
// reconnecting the engine, after the daemon went away) and the stack's folder.
func (s *StackSource) Watch(ctx context.Context, changed func(), event func(devloop.Event)) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	go s.watchFolder(ctx, changed, event)
	s.watchDaemon(ctx, changed)
}

// containerActions are the container events that change what the page shows (exec_*,
// the health probes, are not among them: they come every interval).
var containerActions = []events.Action{events.ActionCreate, events.ActionStart, events.ActionRestart, events.ActionDie,
	events.ActionStop, events.ActionKill, events.ActionDestroy, events.ActionPause, events.ActionUnPause,
	events.ActionHealthStatus, events.ActionOOM, events.ActionRename}

func (s *StackSource) watchDaemon(ctx context.Context, changed func()) {
	v := s.view()
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", labels.ComposeProject+"="+strings.ToLower(v.Name)))
	for _, a := range containerActions {
		args.Add("event", string(a))
	}
	lost, fails := false, 0
	for ctx.Err() == nil {
		if lost {
			// Wait for the daemon. A connection that stays dead (an ssh tunnel to a
			// remote daemon, say) is made anew; a working one is left alone: a watch in
			// this process shares the engine.
			if err := v.Engine.Ping(ctx); err != nil {
				if fails++; fails%3 == 0 {
					_ = v.Engine.Reconnect(ctx)
				}
				sleep(ctx, time.Second)
				continue
			}
			fails = 0
			s.mu.Lock()
			s.stale = map[string]bool{}
			for id := range s.started {
				s.stale[id] = true
			}
			s.mu.Unlock()
			lost = false
		}
		if v.Docker == nil {
			<-ctx.Done()
			return
		}
		subCtx, cancel := context.WithCancel(ctx)
		msgs, errs := v.Docker.Events(subCtx, events.ListOptions{Filters: args})
		changed() // (re)subscribed: whatever happened meanwhile shows
	recv:
		for {
			select {
			case <-ctx.Done():
				cancel()
				return
			case m := <-msgs:
				s.onContainerEvent(m)
				changed()
			case <-errs:
				lost = true
				break recv
			}
		}
		cancel()
		changed() // the snapshot says the daemon is unreachable
		sleep(ctx, 500*time.Millisecond)
	}
}

func (s *StackSource) onContainerEvent(m events.Message) {
	id, svc := m.Actor.ID, m.Actor.Attributes[labels.ComposeService]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m.Action {
	case events.ActionStart:
		s.stale[id] = true
		if s.seen[svc] {
			s.restarts[svc]++
		}
		s.seen[svc] = true
	case events.ActionDestroy:
		delete(s.started, id)
		delete(s.policy, id)
		delete(s.stale, id)
	default:
		if _, ok := s.started[id]; !ok {
			s.stale[id] = true
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// watchFolder follows the stack's event log and notices new build records, state and pins.
func (s *StackSource) watchFolder(ctx context.Context, changed func(), event func(devloop.Event)) {
	v := s.view()
	log, pins := v.EventLog(), stack.PinsFile(v.WS, v.Name)
	var offset int64
	sig := ""
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	for {
		var evs []devloop.Event
		evs, offset = log.Read(offset)
		for _, e := range evs {
			event(e)
		}
		if n := folderSignature(v.ProjectDir()) + fileSignature(pins); n != sig {
			sig = n
			changed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// folderSignature changes when a record of the stack is written: its state, a build, the
// engine's memory of ready containers (ready.json: clocal's own readiness probes, which
// Docker's events do not tell).
func folderSignature(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "none"
	}
	var b strings.Builder
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".json") { // not the event log, the lock, temporary files
			continue
		}
		b.WriteString(fileSignature(filepath.Join(dir, n)))
	}
	return b.String()
}

// fileSignature changes when the file at path is written, created or removed (the
// project's pins, kept outside its folder).
func fileSignature(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return filepath.Base(path) + ":none;"
	}
	return fmt.Sprintf("%s:%d:%d;", filepath.Base(path), fi.ModTime().UnixNano(), fi.Size())
}

// Logs implements Source.
func (s *StackSource) Logs(ctx context.Context, services []string, tail string, sink engine.LogSink) error {
	v := s.view()
	return v.Engine.Logs(ctx, v.Name, services, engine.LogOptions{Follow: true, Tail: tail}, sink)
}

// Record implements Source: the event goes to the stack's log (every page of the stack
// shows it) and to Echo.
func (s *StackSource) Record(e devloop.Event) {
	v := s.view()
	v.EventLog().Append(e)
	s.mu.Lock()
	echo := s.o.Echo
	s.mu.Unlock()
	if echo != nil {
		echo.Report(e)
	}
}

// Act implements Source: start, stop and restart through the stack's service operations
// (project lock, health wait, a stop a watch leaves alone), rebuild through the dev loop
// (build.sh and the image build, replace, wait for health, roll back when unhealthy).
func (s *StackSource) Act(ctx context.Context, action, service string) error {
	v := s.view()
	so := stack.ServiceOptions{Wait: true, WaitTimeout: s.o.WaitTimeout}
	switch action {
	case "restart":
		return v.RestartServices(ctx, []string{service}, so)
	case "stop":
		return v.StopServices(ctx, []string{service}, so)
	case "start":
		return v.StartServices(ctx, []string{service}, so)
	case "rebuild":
		return s.rebuild(ctx, v, service)
	}
	return fmt.Errorf("unknown action %q", action)
}

func (s *StackSource) rebuild(ctx context.Context, v stack.Stack, service string) error {
	svc := v.WS.Services[service]
	if svc == nil {
		return fmt.Errorf("%s is not a service of the workspace: nothing to rebuild", service)
	}
	if _, ok := stack.BuildSpec(v.WS, svc); !ok {
		return fmt.Errorf("%s runs its production image (clocal does not build it): nothing to rebuild", service)
	}
	dev, trigger, err := s.loop(ctx, v)
	if err != nil {
		return err
	}
	outcome := make(chan devloop.Event, 4)
	s.mu.Lock()
	s.waiters[outcome] = service
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, outcome)
		s.mu.Unlock()
	}()
	dev.ForceBuild(service)
	trigger(devloop.ChangeSet{Service: service, At: time.Now()})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-outcome:
			switch e.Kind {
			case "ready", "unchanged":
				return nil
			case "build-failed":
				return errors.New("build failed (the previous container still serves)")
			case "rolled-back":
				return fmt.Errorf("the new container did not become healthy: rolled back to %s", e.Image)
			case "error", "taken-down":
				return errors.New(e.Error)
			}
		}
	}
}

// Report implements devloop.Reporter: the dev loop's events tell a waiting rebuild how it
// ended. Put it in the reporter chain of a watch that runs with the page (up --watch --ui).
func (s *StackSource) Report(e devloop.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, svc := range s.waiters {
		if e.Service == svc || e.Kind == "taken-down" {
			select {
			case c <- e:
			default:
			}
		}
	}
}

// Attach hands the page the dev loop of the watch it runs with (up --watch --ui): rebuilds
// go through it, and the page's own events are echoed to echo (the watch's terminal).
func (s *StackSource) Attach(dev *stack.Dev, trigger func(devloop.ChangeSet), echo devloop.Reporter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Dev, s.o.Trigger, s.o.Echo = dev, trigger, echo
}

// loop returns the dev loop a rebuild goes through: the watch's, or one of the page's own,
// started on first use over the running containers' images.
func (s *StackSource) loop(ctx context.Context, v stack.Stack) (*stack.Dev, func(devloop.ChangeSet), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.Dev != nil && s.o.Trigger != nil {
		return s.o.Dev, s.o.Trigger, nil
	}
	if s.o.External {
		return nil, nil, errors.New("the stack is still starting: rebuild once it is up and watched")
	}
	targets := s.o.Targets
	state, ok := v.LoadState()
	if len(targets) == 0 {
		if !ok {
			return nil, nil, fmt.Errorf("no running stack %s: start it with clocal up TARGET", v.Name)
		}
		targets = state.Targets
	}
	_, sel, err := v.PlanFor(targets)
	if err != nil {
		return nil, nil, err
	}
	ctrs, err := v.Engine.Ps(ctx, v.Name, engine.PsOptions{All: true, Quick: true})
	if err != nil {
		return nil, nil, err
	}
	images := v.Images(sel.Services)
	for _, c := range ctrs {
		if _, built := images[c.Service]; built {
			images[c.Service] = c.Image // what runs now: a rebuild replaces it, a failure rolls back to it
		}
	}
	if ok {
		v.Convert.EphemeralPorts, v.Convert.BindAddress = state.EphemeralPorts, state.BindAddress
	}
	p, _, err := v.Preview(ctx, sel, images)
	if err != nil {
		return nil, nil, err
	}
	builds := map[string]build.Result{}
	for n, img := range images {
		builds[n] = build.Result{Image: img}
	}
	dst := v
	dev := stack.NewDev(&dst, targets, &stack.UpResult{Selection: sel, Project: p, Builds: builds}, s.o.WaitTimeout)
	changes := make(chan devloop.ChangeSet)
	done := make(chan struct{})
	lp := &devloop.Loop{Steps: dev, Reporter: &stack.EventLogReporter{Log: dst.EventLog(), Next: reporters{s, s.o.Echo}}}
	life := s.ctx
	go func() {
		defer close(done)
		_ = lp.Run(life, changes)
		s.mu.Lock()
		s.o.Dev, s.o.Trigger = nil, nil
		s.mu.Unlock()
	}()
	trigger := func(cs devloop.ChangeSet) {
		select {
		case changes <- cs:
		case <-done:
		case <-life.Done():
		}
	}
	s.o.Dev, s.o.Trigger = dev, trigger
	return dev, trigger, nil
}

// reporters reports to each non-nil reporter.
type reporters []devloop.Reporter

func (rs reporters) Report(e devloop.Event) {
	for _, r := range rs {
		if r != nil {
			r.Report(e)
		}
	}
}

// Tee returns a reporter that reports to each of rs (nil ones skipped).
func Tee(rs ...devloop.Reporter) devloop.Reporter { return reporters(rs) }

var _ Source = (*StackSource)(nil)
