package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/watch"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Dev is the dev loop's view of a running stack: it implements devloop.Steps with the
// production build scripts and the compose engine, and tells the watcher what to watch.
type Dev struct {
	St          *Stack
	Targets     []string
	WaitTimeout time.Duration
	// OnTargets is called with the new watch targets after a reload changed the services.
	OnTargets func([]watch.Target)

	// opMu keeps Supervise from acting while the loop changes containers: a container that
	// Replace has just stopped is not "missing", and bringing it back with the previous
	// project would undo the replacement (the old image would run after "ready"). Replace
	// holds it shared (services replace in parallel), Reload and Supervise exclusively.
	opMu sync.RWMutex

	mu      sync.Mutex
	force   map[string]bool // services whose next build ignores the content hash
	sel     *workspace.Selection
	project *types.Project
	images  map[string]string
	config  map[string]bool
	mounted map[string]map[string]bool // service -> config files it mounts (configs:)

	// The compose file is rewritten after replacements, coalesced: a replacement that ends
	// while a write runs marks it dirty, and the writer writes once more with every image
	// known then (sixty replacements are a few writes, not sixty).
	writing, dirty bool
}

var _ devloop.Steps = (*Dev)(nil)

// NewDev prepares the dev loop for a stack started by Up.
func NewDev(st *Stack, targets []string, res *UpResult, waitTimeout time.Duration) *Dev {
	d := &Dev{St: st, Targets: targets, WaitTimeout: waitTimeout, sel: res.Selection, project: res.Project, images: map[string]string{}}
	for n, b := range res.Builds {
		d.images[n] = b.Image
	}
	for n, img := range res.Images {
		d.images[n] = img
	}
	d.config = configFiles(st.WS)
	d.mounted = mountedConfigs(st.WS, res.Selection.Services)
	return d
}

var (
	_ devloop.Dependencies = (*Dev)(nil)
	_ devloop.Converger    = (*Dev)(nil)
	_ devloop.Restarter    = (*Dev)(nil)
)

// mountedConfigs returns, per service, the absolute paths of the files it mounts (configs:).
func mountedConfigs(ws *workspace.Workspace, services []string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, name := range services {
		svc := ws.Services[name]
		if svc == nil {
			continue
		}
		for _, c := range svc.File.Configs {
			abs, err := workspace.InsidePath(ws.Root, svc.Dir, c.Source)
			if err != nil {
				continue
			}
			if out[name] == nil {
				out[name] = map[string]bool{}
			}
			out[name][filepath.Clean(abs)] = true
		}
	}
	return out
}

// IsMountedConfig implements devloop.Restarter.
func (d *Dev) IsMountedConfig(service, path string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mounted[service][filepath.Clean(path)]
}

// Restart implements devloop.Restarter: a file the service mounts changed; the container
// restarts (a single-file bind mount follows the file the editor wrote only when the
// container starts again) and is waited for.
func (d *Dev) Restart(ctx context.Context, service string) error {
	d.opMu.RLock()
	defer d.opMu.RUnlock()
	unlock, _, err := d.changeStack(ctx, lockShared)
	if err != nil {
		return err
	}
	defer unlock()
	if d.St.Convert.Remote != "" {
		// On a remote Docker host configs go in as content, copied into the container
		// when it is created: the project is loaded again (new content) and the service
		// recreated from it.
		d.mu.Lock()
		sel, images := d.sel, maps.Clone(d.images)
		d.mu.Unlock()
		p, _, err := d.St.Project(ctx, sel, images)
		if err != nil {
			return err
		}
		if err := d.St.Engine.Replace(ctx, p, service, d.replaceOptions(service)); err != nil {
			return err
		}
		d.mu.Lock()
		d.project = p
		d.mu.Unlock()
		return nil
	}
	if err := d.St.Engine.Restart(ctx, d.St.Name, []string{service}, engine.StopOptions{}); err != nil {
		return err
	}
	return d.St.Engine.Wait(ctx, d.St.Name, []string{service}, d.WaitTimeout)
}

// DependsOn implements devloop.Dependencies: every service service depends on, directly or
// not (edges that would close a cycle give no order and are left out).
func (d *Dev) DependsOn(service string) []string {
	d.mu.Lock()
	sel := d.sel
	d.mu.Unlock()
	next := map[string][]string{}
	for _, e := range sel.Edges {
		if !e.Cyclic && e.From != e.To {
			next[e.From] = append(next[e.From], e.To)
		}
	}
	seen := map[string]bool{service: true}
	queue := []string{service}
	var out []string
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, dep := range next[s] {
			if !seen[dep] {
				seen[dep] = true
				out = append(out, dep)
				queue = append(queue, dep)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Stale implements devloop.Converger: the services whose files now build another image
// than the one the loop runs (content hashes through the stat cache; nothing is built).
func (d *Dev) Stale(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	sel := d.sel
	running := make(map[string]string, len(d.images))
	for k, v := range d.images {
		running[k] = v
	}
	d.mu.Unlock()
	return d.St.StaleServices(ctx, sel.Services, running)
}

// configFiles are the project definition files: a change re-derives the project.
func configFiles(ws *workspace.Workspace) map[string]bool {
	set := map[string]bool{
		filepath.Join(ws.Root, workspace.ConfigFile): true,
		filepath.Join(ws.Root, workspace.LocalFile):  true,
		filepath.Join(ws.Root, workspace.DotEnvFile): true,
	}
	for _, p := range ws.Profiles {
		set[filepath.Join(ws.Root, p.File)] = true
	}
	for _, s := range ws.Services {
		if s.FilePath != "" {
			set[filepath.Join(ws.Root, s.FilePath)] = true
		}
		for _, f := range s.JobFiles {
			set[filepath.Join(ws.Root, filepath.FromSlash(f))] = true
		}
	}
	return set
}

// WatchTargets returns what to watch for the selected services: each source tree with its
// ignore list, the build script, Dockerfile, service file, job files, profiles and workspace
// settings; build outputs are never watched.
func (d *Dev) WatchTargets() []watch.Target {
	d.mu.Lock()
	defer d.mu.Unlock()
	return watchTargets(d.St.WS, d.sel.Services)
}

func watchTargets(ws *workspace.Workspace, services []string) []watch.Target {
	shared := []string{filepath.Join(ws.Root, workspace.ConfigFile), filepath.Join(ws.Root, workspace.LocalFile), filepath.Join(ws.Root, workspace.DotEnvFile)}
	for _, p := range ws.ProfileNames() {
		shared = append(shared, filepath.Join(ws.Root, ws.Profiles[p].File))
	}
	var out []watch.Target
	for _, name := range services {
		svc := ws.Services[name]
		if svc == nil {
			continue
		}
		t := watch.Target{Service: name, Root: svc.Source, Ignore: svc.File.Watch.Ignore}
		if spec, ok := BuildSpec(ws, svc); ok {
			t.Outputs = spec.Outputs
			t.Files = append(t.Files, spec.Dockerfile)
			if spec.Script != "" {
				t.Files = append(t.Files, spec.Script)
			}
		}
		if svc.FilePath != "" {
			t.Files = append(t.Files, filepath.Join(ws.Root, svc.FilePath))
		}
		// A change of a file the service mounts restarts it (devloop.Restarter).
		t.Files = append(t.Files, slices.Sorted(maps.Keys(mountedConfigs(ws, []string{name})[name]))...)
		for _, f := range svc.JobFiles {
			t.Files = append(t.Files, filepath.Join(ws.Root, filepath.FromSlash(f)))
		}
		t.Files = append(t.Files, shared...)
		var trees []watch.Target
		for _, in := range svc.File.Build.Inputs {
			if !filepath.IsAbs(in) {
				in = filepath.Join(svc.Dir, in)
			}
			in = filepath.Clean(in)
			if fi, err := os.Stat(in); err == nil && fi.IsDir() {
				trees = append(trees, watch.Target{Service: name, Root: in, Outputs: t.Outputs})
			} else {
				// A single file (or one not there yet): its folder is watched for it alone.
				t.Files = append(t.Files, in)
			}
		}
		out = append(out, t)
		out = append(out, trees...)
	}
	return out
}

// IsConfig implements devloop.Steps.
func (d *Dev) IsConfig(path string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.config[path]
}

// Current implements devloop.Steps.
func (d *Dev) Current(_ context.Context, service string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.images[service], nil
}

// ForceBuild makes the next build of service run build.sh and the image build even when its
// content hash is unchanged (a rebuild asked for by hand: the status page's rebuild).
func (d *Dev) ForceBuild(service string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.force == nil {
		d.force = map[string]bool{}
	}
	d.force[service] = true
}

func (d *Dev) takeForce(service string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.force[service]
	delete(d.force, service)
	return f
}

// Planned implements devloop.Planner: the image the service's files build now (its pin, or
// its content hash through the stat cache), unless a rebuild was asked for.
func (d *Dev) Planned(_ context.Context, service string) (string, bool) {
	d.mu.Lock()
	forced := d.force[service]
	d.mu.Unlock()
	if forced {
		return "", false
	}
	img, ok := d.St.Images([]string{service})[service]
	return img, ok
}

// Build implements devloop.Steps: build.sh and the image build, content-hash cached.
func (d *Dev) Build(ctx context.Context, service string) (devloop.BuildResult, error) {
	svc := d.St.WS.Services[service]
	if svc == nil {
		return devloop.BuildResult{}, fmt.Errorf("unknown service %s", service)
	}
	// A service pinned by clocal update keeps its image until update --latest.
	if pins, err := d.St.Pins(); err == nil {
		if pin, ok := pins[service]; ok {
			return devloop.BuildResult{Image: pin.Image}, nil
		}
	}
	spec, ok := BuildSpec(d.St.WS, svc)
	if !ok {
		return devloop.BuildResult{}, fmt.Errorf("%s has no Dockerfile: it runs its production image and is not rebuilt", service)
	}
	res, err := d.St.ensure(ctx, spec, d.takeForce(service))
	if err != nil {
		return devloop.BuildResult{}, withTail(err)
	}
	return devloop.BuildResult{Image: res.Image, Built: res.Built, ScriptDur: res.ScriptDur, ImageDur: res.ImageDur}, nil
}

// Replace implements devloop.Steps: recreate only this service's container with image and
// wait for it to be ready, once its dependencies are (the engine waits for them first and
// judges the service only while they are ready: a failure that is not the service's own
// is returned matching devloop.ErrDependencies). The project is the loaded one with the
// image swapped (loading sixty services through compose-go for each of sixty replacements
// at once is most of a rebuild storm's memory); the compose file is rewritten with every
// image known. Dependents restart only when the service file asks (restart_dependents).
func (d *Dev) Replace(ctx context.Context, service, image string) error {
	d.opMu.RLock()
	defer d.opMu.RUnlock()
	d.mu.Lock()
	sel := d.sel
	p := withImage(d.project, service, image)
	d.mu.Unlock()
	if p == nil {
		return fmt.Errorf("replace %s: not a service of the running project", service)
	}

	unlock, _, err := d.changeStack(ctx, lockShared)
	if err != nil {
		return err
	}
	defer unlock()
	err = d.St.Engine.Replace(ctx, p, service, d.replaceOptions(service))
	var de *engine.DependencyError
	var ie *engine.InterruptedError
	if errors.As(err, &ie) && ie.Replaced {
		// Interrupted (Ctrl-C) mid-replace: the engine finished the container change, so
		// the new image runs (not judged); the compose file says so.
		d.setImage(context.WithoutCancel(ctx), sel, service, image)
		d.St.ReleaseHeld(service)
		return err
	}
	if errors.As(err, &de) {
		if de.Replaced {
			d.setImage(ctx, sel, service, image) // it runs, not judged
		}
		return fmt.Errorf("%w: %w", devloop.ErrDependencies, err)
	}
	if err != nil {
		return err
	}
	d.setImage(ctx, sel, service, image)
	d.St.ReleaseHeld(service) // replaced, so running: a stop on purpose is over
	if svc := d.St.WS.Services[service]; svc != nil && svc.File.RestartDependents {
		var dependents []string
		for _, e := range sel.Edges {
			if e.To == service {
				dependents = append(dependents, e.From)
			}
		}
		if len(dependents) > 0 {
			return d.St.Engine.Restart(ctx, d.St.Name, dependents, engine.StopOptions{})
		}
	}
	return nil
}

// replaceOptions: the loop's wait, and a line when the watch is stopped (first Ctrl-C)
// while service's container is being changed: the engine finishes that change first.
func (d *Dev) replaceOptions(service string) engine.ReplaceOptions {
	return engine.ReplaceOptions{WaitTimeout: d.WaitTimeout, Interrupted: func() {
		fmt.Fprintf(d.St.Out, "finishing replace of %s... (Ctrl-C again to force)\n", service)
	}}
}

// setImage records that service runs image: in the loop's project and images, and in the
// compose file (written with every image known, coalesced across replacements).
func (d *Dev) setImage(ctx context.Context, sel *workspace.Selection, service, image string) {
	d.mu.Lock()
	d.images[service] = image
	d.project = withImage(d.project, service, image)
	d.dirty = true
	if d.writing {
		d.mu.Unlock()
		return // the running writer writes again
	}
	d.writing = true
	for d.dirty {
		d.dirty = false
		images, project := maps.Clone(d.images), d.project
		d.mu.Unlock()
		if err := d.St.writeProject(ctx, sel, images, project); err != nil && ctx.Err() == nil {
			fmt.Fprintf(d.St.Out, "warning: %v\n", err)
		}
		d.mu.Lock()
	}
	d.writing = false
	d.mu.Unlock()
}

// withImage returns p with service's image replaced (p itself is never modified: the
// engine and other replacements may hold it), or nil when p has no such service.
func withImage(p *types.Project, service, image string) *types.Project {
	if p == nil {
		return nil
	}
	sc, ok := p.Services[service]
	if !ok {
		return nil
	}
	cp := *p
	cp.Services = maps.Clone(p.Services)
	sc.Image = image
	cp.Services[service] = sc
	return &cp
}

// Reload implements devloop.Steps: re-read the workspace, re-resolve the targets, build what
// is new, and converge: compose recreates only services whose configuration changed and
// removes the ones no longer selected.
func (d *Dev) Reload(ctx context.Context) (devloop.Diff, error) {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	ws, err := workspace.Load(d.St.WS.Root)
	if err != nil {
		return devloop.Diff{}, err
	}
	// What another up added to the stack meanwhile is watched too (up is additive).
	if st, ok := d.St.LoadState(); ok {
		for _, t := range st.Targets {
			if !slices.Contains(d.Targets, t) {
				if _, err := ws.Resolve([]string{t}); err == nil {
					d.Targets = append(slices.Clip(d.Targets), t)
				}
			}
		}
	}
	sel, err := ws.Resolve(d.Targets)
	if err != nil {
		return devloop.Diff{}, err
	}
	// Until the new project runs, a failure keeps the workspace, selection and project the
	// loop ran before (consistent for a later Replace); the next save of a config file tries
	// the whole reload again.
	old := d.St.WS
	d.St.WS = ws
	applied := false
	defer func() {
		if !applied {
			d.St.WS = old
		}
	}()
	images, _, _, err := d.St.resolveImages(ctx, sel, false)
	if err != nil {
		return devloop.Diff{}, err
	}
	d.mu.Lock()
	running := d.project
	d.mu.Unlock()
	// What runs keeps its host ports; a port picked for a new service and taken before the
	// daemon binds it is picked again (upPicked).
	picks := newPortPicks()
	p, plan, err := d.St.load(ctx, sel, images, true, ProjectHostPorts(running), picks)
	if err != nil {
		return devloop.Diff{}, err
	}
	if err := d.St.ensureSupportImages(ctx, plan); err != nil {
		return devloop.Diff{}, err
	}
	d.mu.Lock()
	diff := diffProjects(d.project, p)
	d.mu.Unlock()
	unlock, _, err := d.changeStack(ctx, lockExclusive)
	if err != nil {
		return diff, err
	}
	defer unlock()
	// Services the edit took out of the selection are removed, unless another up added
	// targets since the state was read above (they would be orphans of this project).
	st, _ := d.St.LoadState()
	orphans := !slices.ContainsFunc(st.Targets, func(t string) bool { return !slices.Contains(d.Targets, t) })
	if p, _, err = d.St.upPicked(ctx, sel, images, p, plan, engine.UpOptions{RemoveOrphans: orphans, Wait: true, WaitTimeout: d.WaitTimeout}, picks); err != nil {
		return diff, err
	}
	applied = true
	_ = d.St.SaveState(State{Targets: d.Targets, Services: sel.Services, EphemeralPorts: d.St.Convert.EphemeralPorts, BindAddress: d.St.Convert.BindAddress, Stopped: st.Stopped})
	d.mu.Lock()
	d.sel, d.project, d.images, d.config = sel, p, images, configFiles(ws)
	d.mounted = mountedConfigs(ws, sel.Services)
	targets := watchTargets(ws, sel.Services)
	d.mu.Unlock()
	if d.OnTargets != nil {
		d.OnTargets(targets)
	}
	return diff, nil
}

// Project returns the project the loop currently runs.
func (d *Dev) Project() *types.Project {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.project
}

// diffProjects compares service configurations (labels aside).
func diffProjects(a, b *types.Project) devloop.Diff {
	var diff devloop.Diff
	canon := func(s types.ServiceConfig) string {
		s.CustomLabels = nil
		data, _ := json.Marshal(s)
		return string(data)
	}
	for name, sb := range b.Services {
		sa, ok := a.Services[name]
		switch {
		case !ok:
			diff.Added = append(diff.Added, name)
		case canon(sa) != canon(sb):
			diff.Changed = append(diff.Changed, name)
		}
	}
	for name := range a.Services {
		if _, ok := b.Services[name]; !ok {
			diff.Removed = append(diff.Removed, name)
		}
	}
	sort.Strings(diff.Added)
	sort.Strings(diff.Changed)
	sort.Strings(diff.Removed)
	return diff
}

// lockMode is how changeStack takes the project lock.
type lockMode int

const (
	lockShared    lockMode = iota // a replace: services replace side by side
	lockExclusive                 // a reload
	lockTry                       // the supervisor: only when no other clocal holds it
)

// changeStack takes the project lock for a change to the running stack and checks under
// it that the stack is still up. clocal down takes the same lock and removes the project's
// state: a replace that waited for a down must not bring one service of the removed stack
// back. The error then wraps devloop.ErrStackGone. held is false (and err nil) only with
// lockTry when another clocal holds the lock.
func (d *Dev) changeStack(ctx context.Context, mode lockMode) (unlock func(), held bool, err error) {
	if _, ok := d.St.LoadState(); !ok {
		return nil, false, d.gone()
	}
	held = true
	switch mode {
	case lockShared:
		unlock, err = d.St.lockProjectShared(ctx)
	case lockExclusive:
		unlock, err = d.St.LockProject(ctx)
	default:
		unlock, held, err = d.St.tryLockProject()
	}
	if err != nil || !held {
		return nil, false, err
	}
	if _, ok := d.St.LoadState(); !ok {
		d.forgetLock()
		unlock()
		return nil, false, d.gone()
	}
	return unlock, true, nil
}

// forgetLock removes the lock file (and the project folder, when nothing else is in it)
// that locking recreated after a down removed the folder.
func (d *Dev) forgetLock() {
	_ = os.Remove(filepath.Join(d.St.ProjectDir(), "lock"))
	_ = os.Remove(d.St.ProjectDir())
}

func (d *Dev) gone() error { return stackGoneError{d.St.Name, "clocal down"} }

// stackGoneError is devloop.ErrStackGone for one project, in one sentence.
type stackGoneError struct{ project, how string }

func (e stackGoneError) Error() string {
	return e.project + " was taken down outside this watch (" + e.how + ")"
}

func (e stackGoneError) Unwrap() error { return devloop.ErrStackGone }

// removedOutside tells a stack taken down by another tool (docker compose down: containers
// and networks removed, clocal's state untouched) from containers removed one by one
// (docker rm -f: the project network stays), which the supervisor brings back.
func (d *Dev) removedOutside(ctx context.Context) bool {
	projects, err := d.St.Engine.Projects(ctx)
	if err != nil {
		return false
	}
	for _, p := range projects {
		if p.Name == d.St.Name {
			return p.Containers == 0 && len(p.Networks) == 0
		}
	}
	return true
}

// Supervise checks the stack every interval until ctx ends: a container that died or was
// removed from outside is reported and brought back; an unreachable daemon is reported once,
// then clocal reconnects (with a fresh client) and carries on. It returns an error wrapping
// devloop.ErrStackGone when the stack was taken down (clocal down removed its state), and
// nil when ctx ended.
func (d *Dev) Supervise(ctx context.Context, interval time.Duration, report func(devloop.Event)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := d.superviseOnce(ctx, &down, report); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// superviseOnce is one check of Supervise; an error when ctx ended or the stack is gone. It
// holds opMu exclusively so that it never sees a container the loop is replacing, and
// restores with the project the loop runs now. It acts only when the project lock is free:
// while another clocal (an up, a down) converges the project, it looks again next time.
func (d *Dev) superviseOnce(ctx context.Context, down *bool, report func(devloop.Event)) error {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	unlock, held, err := d.changeStack(ctx, lockTry)
	if errors.Is(err, devloop.ErrStackGone) {
		return err
	}
	if err != nil {
		report(devloop.Event{Kind: "error", Error: err.Error()})
		return nil
	}
	if !held {
		return nil
	}
	defer unlock()
	p := d.Project()
	ctrs, err := d.St.Engine.Ps(ctx, d.St.Name, engine.PsOptions{All: true, Quick: true})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, engine.ErrDaemonUnreachable) || !*down {
			if !*down {
				report(devloop.Event{Kind: "error", Error: "Docker daemon unreachable: " + err.Error() + " (retrying)"})
			}
			*down = true
			_ = d.St.Engine.Reconnect(ctx)
		}
		return nil
	}
	if *down {
		*down = false
		report(devloop.Event{Kind: "reconnected"})
	}
	if len(ctrs) == 0 && d.removedOutside(ctx) {
		d.St.RemoveState() // what clocal down would have done; we hold the lock
		return stackGoneError{d.St.Name, "its containers and network were removed: docker compose down?"}
	}
	running := map[string]bool{}
	if st, ok := d.St.LoadState(); ok {
		for _, n := range st.Stopped { // stopped on purpose: clocal stop, the status page
			running[n] = true
		}
	}
	for _, c := range ctrs {
		if c.State == "running" || c.State == "restarting" {
			running[c.Service] = true
		}
	}
	var missing []string
	for name := range p.Services {
		if !running[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	for _, m := range missing {
		report(devloop.Event{Kind: "restored", Service: m})
	}
	if err := d.St.Engine.Up(ctx, p, engine.UpOptions{Services: missing, Wait: true, WaitTimeout: d.WaitTimeout}); err != nil && ctx.Err() == nil {
		report(devloop.Event{Kind: "error", Error: "bring back " + fmt.Sprint(missing) + ": " + err.Error()})
	}
	return nil
}

// tailError carries the last lines of a failed build in its message, so that the dev loop's
// build-failed event (text and --json) shows the compiler error, not only "exit status 1".
type tailError struct {
	err  error
	tail []string
}

func (e *tailError) Error() string {
	msg := e.err.Error()
	for _, l := range e.tail {
		msg += "\n" + l
	}
	return msg
}

func (e *tailError) Unwrap() error { return e.err }

func withTail(err error) error {
	var se *build.ScriptError
	if errors.As(err, &se) && len(se.Tail) > 0 {
		return &tailError{err: err, tail: se.Tail}
	}
	var ie *build.ImageError
	if errors.As(err, &ie) && len(ie.Tail) > 0 {
		return &tailError{err: err, tail: ie.Tail}
	}
	return err
}
