// Package enginetest provides a fake engine.Engine for unit tests of other packages.
package enginetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
)

// Call is one recorded call.
type Call struct {
	Method   string   // "Up", "Replace", "Down", ...
	Project  string   // project name
	Services []string // services involved (Up: o.Services; Replace: the service; ...)
	Options  any      // the options struct passed, if any (UpOptions, ReplaceOptions...)
}

// Fake is an in-memory engine.Engine. It records calls, returns programmed errors and
// keeps a tiny model of projects so Ps reflects Up/Replace/Stop/Start/Down: every
// service gets one container "<project>-<service>-1" whose ID changes when it is
// recreated. The zero value is ready to use; it is safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	calls []Call
	errs  map[string][]error
	seq   int
	state map[string]map[string]*engine.Container // project → service → container

	// ExecFunc, when set, answers Exec (default: exit code 0, no error).
	ExecFunc func(project, service string, o engine.ExecOptions) (int, error)
	// LogLines, when set, are sent to the sink by Logs (service → lines).
	LogLines map[string][]string
	// PingErr is returned by Ping and Reconnect.
	PingErr error
}

var _ engine.Engine = (*Fake)(nil)

// FailNext makes the next call to method return err (calls queue up, in order).
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[string][]error{}
	}
	f.errs[method] = append(f.errs[method], err)
}

// Calls returns a copy of every recorded call, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsTo returns the recorded calls of one method.
func (f *Fake) CallsTo(method string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets recorded calls (not the state).
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// record appends a call and pops a programmed error. f.mu must be held.
func (f *Fake) record(c Call) error {
	f.calls = append(f.calls, c)
	if q := f.errs[c.Method]; len(q) > 0 {
		f.errs[c.Method] = q[1:]
		return q[0]
	}
	return nil
}

func (f *Fake) newContainer(project, service, image string) *engine.Container {
	f.seq++
	return &engine.Container{
		ID:      fmt.Sprintf("fake%060d", f.seq),
		Name:    project + "-" + service + "-1",
		Project: project,
		Service: service,
		Image:   image,
		State:   "running",
		Status:  "Up",
		Created: time.Now(),
		Labels: map[string]string{
			labels.ComposeProject: project,
			labels.ComposeService: service,
		},
	}
}

func (f *Fake) project(name string) map[string]*engine.Container {
	if f.state == nil {
		f.state = map[string]map[string]*engine.Container{}
	}
	if f.state[name] == nil {
		f.state[name] = map[string]*engine.Container{}
	}
	return f.state[name]
}

func selected(p *types.Project, services []string) []string {
	if len(services) == 0 {
		return p.ServiceNames()
	}
	set := map[string]bool{}
	_ = p.ForEachService(services, func(name string, _ *types.ServiceConfig) error {
		set[name] = true
		return nil
	})
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Up records the call; on success every selected service (and dependency) gets a
// running container, recreated when its image changed or o.Recreate is force.
func (f *Fake) Up(_ context.Context, p *types.Project, o engine.UpOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Up", Project: p.Name, Services: slices.Clone(o.Services), Options: o}); err != nil {
		return err
	}
	st := f.project(p.Name)
	for _, name := range selected(p, o.Services) {
		s := p.Services[name]
		c := st[name]
		switch {
		case c == nil || o.Recreate == engine.RecreateForce || (c.Image != s.Image && o.Recreate != engine.RecreateNever):
			st[name] = f.newContainer(p.Name, name, s.Image)
		default:
			c.State, c.Status = "running", "Up"
		}
	}
	return nil
}

// Replace records the call and gives the service a new container ID.
func (f *Fake) Replace(_ context.Context, p *types.Project, service string, o engine.ReplaceOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Replace", Project: p.Name, Services: []string{service}, Options: o}); err != nil {
		return err
	}
	s, err := p.GetService(service)
	if err != nil {
		return err
	}
	f.project(p.Name)[service] = f.newContainer(p.Name, service, s.Image)
	return nil
}

// Down records the call and forgets the project.
func (f *Fake) Down(_ context.Context, project string, o engine.DownOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Down", Project: project, Options: o}); err != nil {
		return err
	}
	delete(f.state, project)
	return nil
}

// RemoveContainers removes containers of project as `docker rm -f` would: the project
// (and its network) stays. No services: all of them.
func (f *Fake) RemoveContainers(project string, services ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name := range f.state[project] {
		if len(services) == 0 || slices.Contains(services, name) {
			delete(f.state[project], name)
		}
	}
}

// Ps returns the modelled containers.
func (f *Fake) Ps(_ context.Context, project string, o engine.PsOptions) ([]engine.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Ps", Project: project, Services: slices.Clone(o.Services), Options: o}); err != nil {
		return nil, err
	}
	var out []engine.Container
	for name, c := range f.state[project] {
		if len(o.Services) > 0 && !slices.Contains(o.Services, name) {
			continue
		}
		if !o.All && c.State != "running" {
			continue
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// Logs sends LogLines of the selected services to the sink.
func (f *Fake) Logs(ctx context.Context, project string, services []string, o engine.LogOptions, sink engine.LogSink) error {
	f.mu.Lock()
	err := f.record(Call{Method: "Logs", Project: project, Services: slices.Clone(services), Options: o})
	lines := map[string][]string{}
	for s, l := range f.LogLines {
		if len(services) == 0 || slices.Contains(services, s) {
			lines[s] = slices.Clone(l)
		}
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(lines))
	for s := range lines {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		for _, l := range lines[s] {
			sink.Log(s, project+"-"+s+"-1", l, false)
		}
	}
	if o.Follow {
		<-ctx.Done()
	}
	return nil
}

func (f *Fake) setState(method, project string, services []string, opts any, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: method, Project: project, Services: slices.Clone(services), Options: opts}); err != nil {
		return err
	}
	for name, c := range f.state[project] {
		if len(services) == 0 || slices.Contains(services, name) {
			c.State = state
		}
	}
	return nil
}

// Start records the call and marks containers running.
func (f *Fake) Start(_ context.Context, project string, services []string) error {
	return f.setState("Start", project, services, nil, "running")
}

// Stop records the call and marks containers exited.
func (f *Fake) Stop(_ context.Context, project string, services []string, o engine.StopOptions) error {
	return f.setState("Stop", project, services, o, "exited")
}

// Restart records the call and marks containers running.
func (f *Fake) Restart(_ context.Context, project string, services []string, o engine.StopOptions) error {
	return f.setState("Restart", project, services, o, "running")
}

// Wait records the call (containers of the fake are ready at once).
func (f *Fake) Wait(_ context.Context, project string, services []string, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record(Call{Method: "Wait", Project: project, Services: slices.Clone(services), Options: timeout})
}

// Exec records the call and answers with ExecFunc (default 0, nil).
func (f *Fake) Exec(_ context.Context, project, service string, o engine.ExecOptions) (int, error) {
	f.mu.Lock()
	err := f.record(Call{Method: "Exec", Project: project, Services: []string{service}, Options: o})
	fn := f.ExecFunc
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if fn != nil {
		return fn(project, service, o)
	}
	return 0, nil
}

// Projects summarises the modelled projects.
func (f *Fake) Projects(context.Context) ([]engine.ProjectSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Projects"}); err != nil {
		return nil, err
	}
	var out []engine.ProjectSummary
	for name, st := range f.state {
		p := engine.ProjectSummary{Name: name, Networks: []string{name + "_clocal"}} // Up created it; Down removes it
		for s, c := range st {
			p.Services = append(p.Services, s)
			p.Containers++
			if c.State == "running" {
				p.Running++
			}
			if c.Created.After(p.LastCreated) {
				p.LastCreated = c.Created
			}
		}
		sort.Strings(p.Services)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Ping records the call and returns PingErr (or a programmed error).
func (f *Fake) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Ping"}); err != nil {
		return err
	}
	return f.PingErr
}

// Reconnect records the call and returns PingErr (or a programmed error).
func (f *Fake) Reconnect(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(Call{Method: "Reconnect"}); err != nil {
		return err
	}
	return f.PingErr
}

// Close records the call.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.record(Call{Method: "Close"})
}
