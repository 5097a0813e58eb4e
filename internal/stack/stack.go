// Package stack ties the steps together for one compose project of a workspace:
// targets → closure (workspace) → images (build) → compose project (convert) → containers
// (engine). Commands, the dev loop and the Go test helper all go through it, so `up`,
// `watch` and `stacktest.StartStack` behave the same way.
package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/pause"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/routerimage"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// StateDir is clocal's own folder in a workspace (git-ignored, owner-only).
const StateDir = ".clocal"

// Stack is one compose project of a workspace.
type Stack struct {
	WS      *workspace.Workspace
	Name    string // compose project name
	Engine  engine.Engine
	Docker  client.APIClient
	Builder *build.Builder
	// Out receives clocal's progress lines (build output is the Builder's).
	Out io.Writer
	// Convert holds the port options (ephemeral ports, bind address).
	Convert convert.Options
	// Labels are added to every container (e.g. labels.OwnerPID for test stacks).
	Labels map[string]string
	// Pull is the pull policy for the images the stack runs but does not build and for the
	// base images of its builds ("" is registry.PullMissing).
	Pull registry.Policy
	// Puller pulls them: New gives a *registry.Puller (through the daemon, with the user's
	// Docker credentials, progress on Out; set its TTY for a terminal). nil pulls nothing
	// (a stack without a daemon, on a fake engine).
	Puller ImagePuller
	// Hosts says where the stack runs and builds (see SetHosts; zero: wherever Engine and
	// Docker talk to, build.sh's docker unchanged).
	Hosts Hosts
	// RouterExecutable is a clocal executable that serves `clocal __router`, one source of
	// the router image (routerimage.Options.Executable; "" in programs that are not clocal).
	RouterExecutable string

	remote *remoteState // set by SetHosts; shared by copies of the Stack
}

// ImagePuller makes images present under a pull policy (registry.Puller; fakes in tests).
type ImagePuller interface {
	Ensure(ctx context.Context, wants []registry.Want, policy registry.Policy) error
}

// New returns a stack for ws with the given project name ("" = the workspace default).
func New(ws *workspace.Workspace, name string, eng engine.Engine, docker client.APIClient, out io.Writer) *Stack {
	if name == "" {
		name = ws.ProjectName()
	}
	if out == nil {
		out = io.Discard
	}
	auth := registry.DockerAuth()
	s := &Stack{
		WS: ws, Name: name, Engine: eng, Docker: docker, Out: out, Pull: registry.PullMissing,
		Builder: &build.Builder{Docker: docker, Out: out, CacheDir: CacheDir(ws), Auth: auth},
	}
	if docker != nil {
		s.Puller = newPuller(s, auth)
		s.Builder.PullBases = s.pullBases
	}
	if docker != nil {
		// Docker 25+ probes fast while a container starts (start_interval), slow after.
		s.Convert.Health.StartInterval = versions.GreaterThanOrEqualTo(docker.ClientVersion(), "1.44")
	}
	return s
}

// BuildSpec returns how svc is built, and false when the service folder has no Dockerfile
// (it then runs its production image as is).
func BuildSpec(ws *workspace.Workspace, svc *workspace.Service) (build.Spec, bool) {
	if svc.Dir == "" {
		return build.Spec{}, false // no service folder claims its jobs
	}
	bc := svc.File.Build
	rel := func(p, def string) string {
		if p == "" {
			p = def
		}
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(svc.Dir, p)
	}
	dockerfile := rel(bc.Dockerfile, "Dockerfile")
	if _, err := os.Stat(dockerfile); err != nil {
		return build.Spec{}, false
	}
	spec := build.Spec{
		Service:    svc.Name,
		Dir:        svc.Dir,
		Dockerfile: dockerfile,
		Context:    rel(bc.Context, "."),
		Source:     svc.Source,
		Env:        map[string]string(bc.Env),
		Ignore:     append([]string(nil), svc.File.Watch.Ignore...),
		// The workspace label lets `update` and tests find the images of one checkout; it
		// is part of the hash, so another checkout (or a moved one) builds its own images.
		Labels: map[string]string{labels.Workspace: ws.Root},
	}
	script := rel(bc.Script, "build.sh")
	if _, err := os.Stat(script); err == nil {
		spec.Script = script
	}
	for _, o := range bc.Outputs {
		spec.Outputs = append(spec.Outputs, rel(o, ""))
	}
	for _, in := range bc.Inputs {
		spec.Inputs = append(spec.Inputs, rel(in, ""))
	}
	for _, c := range svc.File.Configs {
		if abs, err := workspace.InsidePath(ws.Root, svc.Dir, c.Source); err == nil {
			spec.Runtime = append(spec.Runtime, abs)
		}
	}
	return spec, true
}

// Specs returns the build specs of the given services that are built locally.
func (s *Stack) Specs(services []string) map[string]build.Spec {
	out := map[string]build.Spec{}
	for _, name := range services {
		svc := s.WS.Services[name]
		if svc == nil {
			continue
		}
		if spec, ok := BuildSpec(s.WS, svc); ok {
			out[name] = spec
		}
	}
	return out
}

// Images returns the image each service would run now, from content hashes and pins only
// (nothing is built): used by `config` and `inspect` so that their output is exactly what
// `up` would run.
func (s *Stack) Images(services []string) map[string]string {
	images := s.BuildImages(services)
	if pins, err := s.Pins(); err == nil {
		for _, name := range services {
			if p, ok := pins[name]; ok {
				images[name] = p.Image
			}
		}
	}
	return images
}

// BuildImages returns the image each built service's current sources give (its content
// hash; nothing is built), pins aside.
func (s *Stack) BuildImages(services []string) map[string]string {
	images := map[string]string{}
	for name, spec := range s.Specs(services) {
		if h, err := s.Builder.Hash(spec); err == nil {
			images[name] = build.ImageRef(spec.Service, h)
		}
	}
	return images
}

// StaleServices returns, sorted, the services (of services) whose running image (running:
// service -> image) is not the image their files build now: the files changed since, or a
// failed build or replacement left an older image running. Services clocal does not build,
// or with no running image, are left out. Only content hashes are computed (through the
// stat cache), in parallel.
func (s *Stack) StaleServices(ctx context.Context, services []string, running map[string]string) ([]string, error) {
	specs := s.Specs(services)
	var (
		mu    sync.Mutex
		stale []string
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, max(2, runtime.NumCPU()))
	)
	for name, spec := range specs {
		cur := running[name]
		if cur == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			h, err := s.Builder.Hash(spec)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case build.ImageRef(spec.Service, h) != cur:
				stale = append(stale, name)
			}
		}()
	}
	wg.Wait()
	sort.Strings(stale)
	if err := ctx.Err(); err != nil {
		return stale, err
	}
	return stale, errors.Join(errs...)
}

// BuildReport is what Build did for one service.
type BuildReport struct {
	Service string
	build.Result
}

// Build makes sure the image of every locally built service exists, running build.sh and the
// image build only where the content hash changed (or force). Every service is hashed at
// once; the builds themselves run as many at a time as the Builder's slots allow (the
// cores of this machine for build.sh, of the daemon for image builds). The first failure
// cancels the rest and is returned.
func (s *Stack) Build(ctx context.Context, services []string, force bool) (map[string]build.Result, error) {
	specs := s.Specs(services)
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		results = map[string]build.Result{}
		errs    []error
		wg      sync.WaitGroup
	)
	for _, n := range names {
		wg.Add(1)
		go func(n string) {
			defer wg.Done()
			res, err := s.ensure(ctx, specs[n], force)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
					errs = append(errs, err)
				}
				cancel()
				return
			}
			results[n] = res
		}(n)
	}
	wg.Wait()
	if len(errs) > 0 {
		return results, errs[0]
	}
	if err := ctx.Err(); err != nil && len(results) < len(names) {
		return results, err
	}
	return results, nil
}

// Project converts the selection with the given images and loads it through compose-go.
// The generated YAML is written to .clocal/projects/<name>/compose.yaml (owner-only: it
// holds the real env values) and that path is what compose's labels point to.
func (s *Stack) Project(ctx context.Context, sel *workspace.Selection, images map[string]string) (*types.Project, *convert.Plan, error) {
	return s.load(ctx, sel, images, true, nil, nil)
}

// Preview is Project without writing anything (inspect, dry runs).
func (s *Stack) Preview(ctx context.Context, sel *workspace.Selection, images map[string]string) (*types.Project, *convert.Plan, error) {
	return s.load(ctx, sel, images, false, nil, nil)
}

// convertYAML converts the selection with the given images to compose YAML; picks, when not
// nil, records the host ports clocal picks and keeps it from the ports a start could not bind.
func (s *Stack) convertYAML(ctx context.Context, sel *workspace.Selection, images map[string]string, hostPorts map[string]map[int]int, picks *portPicks) (*convert.Plan, []byte, error) {
	opts := s.Convert
	opts.Images = images
	if hostPorts != nil {
		opts.HostPorts = hostPorts
	}
	if !opts.EphemeralPorts && opts.PortTaken == nil {
		opts.PortTaken = s.portTaken(ctx, opts.BindAddress)
	}
	s.stablePorts(ctx, &opts)
	picks.apply(&opts)
	plan, err := convert.FromWorkspace(s.WS, sel, opts)
	if err != nil {
		return nil, nil, err
	}
	yaml, err := plan.YAML()
	if err != nil {
		return nil, nil, err
	}
	return plan, yaml, nil
}

// writeProject writes the compose file of the selection with the given images without
// loading it (the dev loop changes only images of a project it has loaded), with the host
// ports that project publishes.
func (s *Stack) writeProject(ctx context.Context, sel *workspace.Selection, images map[string]string, p *types.Project) error {
	_, yaml, err := s.convertYAML(ctx, sel, images, ProjectHostPorts(p), nil)
	if err != nil {
		return err
	}
	_, err = s.writeState("compose.yaml", yaml)
	return err
}

func (s *Stack) load(ctx context.Context, sel *workspace.Selection, images map[string]string, write bool, hostPorts map[string]map[int]int, picks *portPicks) (*types.Project, *convert.Plan, error) {
	plan, yaml, err := s.convertYAML(ctx, sel, images, hostPorts, picks)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(s.ProjectDir(), "compose.yaml")
	if write {
		if path, err = s.writeState("compose.yaml", yaml); err != nil {
			return nil, nil, err
		}
	}
	p, err := convert.Load(ctx, yaml, s.Name, s.WS.Root, convert.WithConfigFile(path))
	if err != nil {
		return nil, nil, err
	}
	if len(s.Labels) > 0 {
		for name, svc := range p.Services {
			if svc.CustomLabels == nil {
				svc.CustomLabels = map[string]string{}
			}
			for k, v := range s.Labels {
				svc.CustomLabels[k] = v
			}
			p.Services[name] = svc
		}
	}
	return p, plan, nil
}

// portTaken returns the test convert uses for "is this production port taken": a port
// this project's own containers publish is not; any other port is taken when it cannot be
// bound on the bind address. A stack on another machine asks there (remotePortTaken).
func (s *Stack) portTaken(ctx context.Context, bind string) func(int) bool {
	if bind == "" {
		bind = convert.DefaultBindAddress
	}
	if s.Remote() {
		return s.remotePortTaken(ctx, bind)
	}
	var own map[int]bool // asked for once, when a port is found taken
	return func(port int) bool {
		if bindable(bind, port) {
			return false
		}
		if own == nil {
			own = map[int]bool{}
			if s.Engine != nil {
				if ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{Quick: true}); err == nil {
					for _, c := range ctrs {
						for _, p := range c.Publishers {
							own[p.PublishedPort] = true
						}
					}
				}
			}
		}
		return !own[port]
	}
}

// stablePorts keeps every running service's published host ports (convert.Options.HostPorts,
// from the project's running containers) and, on this machine, picks a port that cannot be
// published on itself once, so the container is created with it and a recreate keeps it
// (FreePort). On another machine the daemon picks (no port of that machine can be probed
// from here).
func (s *Stack) stablePorts(ctx context.Context, opts *convert.Options) {
	if opts.HostPorts == nil && s.Engine != nil {
		if ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{Quick: true}); err == nil {
			opts.HostPorts = HostPorts(ctrs)
		}
	}
	if opts.FreePort == nil && !s.Remote() {
		bind := opts.BindAddress
		if bind == "" {
			bind = convert.DefaultBindAddress
		}
		opts.FreePort = func() (int, error) { return freePort(bind) }
	}
}

// HostPorts returns, per compose service, the host port each published container port is on.
func HostPorts(ctrs []engine.Container) map[string]map[int]int {
	out := map[string]map[int]int{}
	for _, c := range ctrs {
		for _, p := range c.Publishers {
			if p.PublishedPort == 0 || p.TargetPort == 0 || p.Protocol != "" && p.Protocol != "tcp" {
				continue
			}
			if out[c.Service] == nil {
				out[c.Service] = map[int]int{}
			}
			out[c.Service][p.TargetPort] = p.PublishedPort
		}
	}
	return out
}

// ProjectHostPorts returns, per service of a loaded project, the fixed host port each
// published container port is on (an empty map for none or a nil project).
func ProjectHostPorts(p *types.Project) map[string]map[int]int {
	out := map[string]map[int]int{}
	if p == nil {
		return out
	}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			h, err := strconv.Atoi(port.Published)
			if err != nil || h == 0 || port.Target == 0 {
				continue
			}
			if out[name] == nil {
				out[name] = map[int]int{}
			}
			out[name][int(port.Target)] = h
		}
	}
	return out
}

// bindable reports whether bind:port can be listened on here.
func bindable(bind string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(strings.Trim(bind, "[]"), strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// ProjectDir is where the stack's generated files live.
func (s *Stack) ProjectDir() string {
	return ProjectStateDir(s.WS.Root, s.Name)
}

func (s *Stack) writeState(name string, data []byte) (string, error) {
	dir := s.ProjectDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state folder: %w", err)
	}
	_ = os.Chmod(filepath.Join(s.WS.Root, StateDir), 0o700)
	_ = os.Chmod(dir, 0o700)
	path := filepath.Join(dir, name)
	// A temporary file of its own per write (CreateTemp: 0600, unique name): the dev loop
	// replaces many services at once, and writers sharing one temporary name removed each
	// other's file between write and rename.
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// State is what clocal remembers about a running stack (for watch, env and status).
type State struct {
	Project        string   `json:"project"`
	Targets        []string `json:"targets"`
	Services       []string `json:"services"`
	EphemeralPorts bool     `json:"ephemeral_ports,omitempty"`
	BindAddress    string   `json:"bind_address,omitempty"`
	// Stopped are services stopped on purpose (clocal stop, the status page): a watch does
	// not bring them back. up and start clear it.
	Stopped []string  `json:"stopped,omitempty"`
	Updated time.Time `json:"updated"`
}

// SaveState records the targets the stack was started with.
func (s *Stack) SaveState(st State) error {
	st.Project = s.Name
	st.Updated = time.Now().UTC()
	data, _ := json.MarshalIndent(st, "", "  ")
	_, err := s.writeState(stateFile, data)
	return err
}

// LoadState reads the recorded state; ok is false when the stack was never started here.
func (s *Stack) LoadState() (State, bool) {
	var st State
	data, err := os.ReadFile(filepath.Join(s.ProjectDir(), stateFile))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return State{}, false
	}
	return st, true
}

// RemoveState forgets the stack (after down): its port forwards end too.
func (s *Stack) RemoveState() {
	RemoveStateAt(s.WS.Root, s.Name)
}

// UpOptions configure Up.
type UpOptions struct {
	ForceBuild  bool
	Wait        bool
	WaitTimeout time.Duration
	// Recreate forces new containers for the requested services.
	Recreate bool
}

// UpResult is what Up started.
type UpResult struct {
	// Selection is what the stack runs now: the closure of Targets, which are the targets
	// asked for plus Kept, those an earlier up started (Up is additive).
	Selection *workspace.Selection
	Targets   []string
	Kept      []string
	Project   *types.Project
	Plan      *convert.Plan
	Builds    map[string]build.Result
	// Images is the image of every service that does not run its production image: its
	// build, or its pin (clocal update).
	Images map[string]string
	// Pins are the selected services' pins.
	Pins map[string]Pin
	// Remote says the stack runs on another machine, Host which (as the user named it:
	// "ssh://devbox (docker context devbox)"), Run its URL and context;
	// Copied lists the images copied there from this machine's daemon.
	Remote bool
	Host   string
	Run    engine.Host
	Copied []string
}

// Up builds what changed and brings the closure of targets up.
//
// Up is additive, like compose's: services an earlier up of this stack started keep
// running (`up B` after `up A` leaves A's services alone, rebuilds nothing of theirs and
// removes nothing); the recorded targets become the union. Only down removes services.
func (s *Stack) Up(ctx context.Context, targets []string, o UpOptions) (*UpResult, error) {
	asked, err := s.WS.Resolve(targets)
	if err != nil {
		return nil, err
	}
	if err := s.checkRemoteFiles(asked); err != nil {
		return nil, err
	}
	// One up at a time per project: two concurrent ups would race on container names.
	unlock, err := s.LockProject(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, kept, running := s.keepRunning(ctx, targets)
	sel := asked
	if len(kept) > 0 {
		if sel, err = s.WS.Resolve(all); err != nil {
			return nil, err
		}
	}
	// clocal's own images first (the pause and router images do not depend on the builds:
	// a machine that cannot make the router image says so before minutes of builds), then
	// images from registries (pulled under the pull policy), then builds: nothing about the
	// running containers changes before all of them succeeded.
	support, err := s.supportPlan(sel)
	if err != nil {
		return nil, err
	}
	if err := s.ensureSupportImages(ctx, support); err != nil {
		return nil, err
	}
	images, builds, pins, err := s.resolveImages(ctx, asked, o.ForceBuild)
	if err != nil {
		return nil, err
	}
	if len(kept) > 0 {
		// The services only kept run what they run; their current build stands in for one
		// without a container (nothing creates it: Up is limited to what was asked).
		others := slices.DeleteFunc(slices.Clone(sel.Services), func(n string) bool { return slices.Contains(asked.Services, n) })
		cur := s.Images(others)
		for _, n := range others {
			if img := running[n]; img != "" {
				images[n] = img
			} else if img := cur[n]; img != "" {
				images[n] = img
			}
		}
	}
	picks := newPortPicks()
	p, plan, err := s.load(ctx, sel, images, true, nil, picks)
	if err != nil {
		return nil, err
	}
	s.warnPrivileges(asked)
	s.warnUnreachablePorts()
	if err := s.makeMountDirs(asked); err != nil {
		return nil, err
	}
	state := State{Targets: all, Services: sel.Services, EphemeralPorts: s.Convert.EphemeralPorts, BindAddress: s.Convert.BindAddress}
	if prev, ok := s.LoadState(); ok && len(kept) > 0 {
		// up starts what it was asked for: a kept service stopped on purpose stays stopped.
		state.Stopped = slices.DeleteFunc(prev.Stopped, func(n string) bool { return slices.Contains(asked.Services, n) })
	}
	if err := s.SaveState(state); err != nil {
		return nil, err
	}
	// Never RemoveOrphans: the project declares every service of the stack, and a container
	// it does not declare (a service gone from the workspace) is left to down, as compose does.
	uo := engine.UpOptions{Wait: o.Wait, WaitTimeout: o.WaitTimeout}
	if len(kept) > 0 {
		uo.Services = asked.Services
	}
	if o.Recreate {
		uo.Recreate = engine.RecreateForce
	}
	if p, plan, err = s.upPicked(ctx, sel, images, p, plan, uo, picks); err != nil {
		return nil, err
	}
	return &UpResult{Selection: sel, Targets: all, Kept: kept, Project: p, Plan: plan, Builds: builds, Images: images, Pins: pins,
		Remote: s.Remote(), Host: s.Hosts.Run.String(), Run: s.Hosts.Run, Copied: s.Copied()}, nil
}

// keepRunning adds to targets the recorded targets of this stack while it has containers:
// it returns the union (targets first), the targets added, and the image each service's
// container runs.
func (s *Stack) keepRunning(ctx context.Context, targets []string) (all, kept []string, running map[string]string) {
	all = targets
	st, ok := s.LoadState()
	if !ok {
		return all, nil, nil
	}
	for _, t := range st.Targets {
		if slices.Contains(targets, t) || slices.Contains(kept, t) {
			continue
		}
		if _, err := s.WS.Resolve([]string{t}); err != nil {
			fmt.Fprintf(s.Out, "warning: %s, started by an earlier up, is no longer a target of the workspace (%v); clocal down removes what it ran\n", t, err)
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return all, nil, nil
	}
	ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{All: true, Quick: true})
	if err != nil || len(ctrs) == 0 {
		return all, nil, nil // nothing of the stack is left: a fresh start
	}
	running = map[string]string{}
	for _, c := range ctrs {
		running[c.Service] = c.Image
	}
	return append(slices.Clone(targets), kept...), kept, running
}

// supportPlan converts the selection without images nor port probes: enough to know which
// support images (pause, router) it needs.
func (s *Stack) supportPlan(sel *workspace.Selection) (*convert.Plan, error) {
	opts := s.Convert
	opts.PortTaken = func(int) bool { return false }
	opts.FreePort = nil
	return convert.FromWorkspace(s.WS, sel, opts)
}

// ensureSupportImages creates the pause image when the plan has shared network namespaces,
// and makes the router image present when it has production hosts standing for several
// namespaces (EnsureRouter).
func (s *Stack) ensureSupportImages(ctx context.Context, plan *convert.Plan) error {
	for _, g := range plan.Groups {
		if g.Pause {
			if _, err := pause.Ensure(ctx, s.Docker); err != nil {
				return err
			}
			break
		}
	}
	if len(plan.Routers) > 0 {
		names := make([]string, len(plan.Routers))
		for i, r := range plan.Routers {
			names[i] = r.Name
		}
		if _, err := s.EnsureRouter(ctx, names); err != nil {
			var ue *routerimage.UnavailableError
			if !errors.As(err, &ue) {
				err = fmt.Errorf("router image: %w", err)
			}
			return err
		}
	}
	return nil
}

// EnsureRouter makes clocal's router image present on the daemon the stack runs on, from the
// first source that works (internal/routerimage): the daemon, the build host (copied),
// router_image (pulled under the stack's pull policy), clocal's own static executable, the
// Go toolchain. forWhom names the routers that need it, for pull messages.
func (s *Stack) EnsureRouter(ctx context.Context, forWhom []string) (routerimage.Result, error) {
	return routerimage.Ensure(ctx, s.RouterOptions(forWhom))
}

// RouterOptions are the router image sources of this stack (EnsureRouter; `clocal router
// push` uses them without the registry).
func (s *Stack) RouterOptions(forWhom []string) routerimage.Options {
	o := routerimage.Options{Docker: s.Docker, For: forWhom, Out: s.Out, Executable: s.RouterExecutable}
	if s.WS != nil {
		o.RegistryImage = s.WS.RouterImage()
	}
	if s.Puller != nil {
		o.Pull = func(ctx context.Context, ref string) error {
			// On a remote host, a copy this machine's daemon has goes there first.
			left, err := s.copyMissing(ctx, []string{ref})
			if err != nil || len(left) == 0 {
				return err
			}
			var p ImagePuller = s.Puller
			if rp, ok := p.(*registry.Puller); ok {
				p = rp.Lines()
			}
			return p.Ensure(ctx, []registry.Want{{Image: ref, For: forWhom}}, s.Pull)
		}
	}
	if s.copies() && s.Docker != nil {
		o.Copy = func(ctx context.Context, ref string) (bool, error) {
			return s.copyFromBuildHost(ctx, ref, func(line string) { fmt.Fprintln(s.Out, line) })
		}
	}
	return o
}

// Endpoint is a published port of a service.
type Endpoint struct {
	Service   string `json:"service"`
	Port      int    `json:"port"`      // the port the service listens on in the container
	Host      string `json:"host"`      // host address
	HostPort  int    `json:"host_port"` // published port
	URL       string `json:"url"`
	Container string `json:"container,omitempty"` // the container publishing it (pause owner for shared hosts)
	// On a Docker host that is another machine: the port as published there, and that
	// host. Host:HostPort is then the address that answers here (an ssh forward to
	// Remote for ssh:// hosts).
	Remote     string `json:"remote,omitempty"`
	DockerHost string `json:"docker_host,omitempty"`
}

// Address returns host:port.
func (e Endpoint) Address() string { return fmt.Sprintf("%s:%d", e.Host, e.HostPort) }

// Endpoints returns the published ports of the stack's services, attributing ports published
// by a pause container to the member service that listens on them.
func (s *Stack) Endpoints(ctx context.Context, plan *convert.Plan) ([]Endpoint, error) {
	ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{Quick: true})
	if err != nil {
		return nil, err
	}
	// Which member listens on which port of an owner.
	listens := map[string]map[int]string{} // owner -> port -> service
	for _, name := range plan.Services() {
		owner := plan.Owner(name)
		if owner == "" {
			continue
		}
		for _, port := range plan.Ports(name) {
			if listens[owner] == nil {
				listens[owner] = map[int]string{}
			}
			listens[owner][port] = name
		}
	}
	// The addresses that answer on this machine (forwards for a remote host).
	out, err := s.ContainerEndpoints(ctx, ctrs, true)
	if err != nil {
		return nil, err
	}
	for i, e := range out {
		if m := listens[e.Service]; m != nil && m[e.Port] != "" {
			out[i].Service = m[e.Port]
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Port < out[j].Port
	})
	return out, nil
}

// EnvName turns a service name into an environment variable prefix: repo-manager → REPO_MANAGER.
func EnvName(service string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(service) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// CacheDir is where the build stat cache of a workspace lives.
func CacheDir(ws *workspace.Workspace) string { return filepath.Join(ws.Root, StateDir, "cache") }

// CurrentPlan re-derives the plan of a running stack from its recorded targets (for env,
// port and status, which run without building anything).
func (s *Stack) CurrentPlan() (*convert.Plan, *workspace.Selection, error) {
	return s.PlanFor(nil)
}

// PlanFor derives the plan of targets (nil: the recorded ones) with the port options the
// stack runs with, without building anything.
func (s *Stack) PlanFor(targets []string) (*convert.Plan, *workspace.Selection, error) {
	st, ok := s.LoadState()
	if !ok && len(targets) == 0 {
		return nil, nil, fmt.Errorf("no record of stack %s in this workspace (was it started with clocal up here?)", s.Name)
	}
	if len(targets) == 0 {
		targets = st.Targets
	}
	sel, err := s.WS.Resolve(targets)
	if err != nil {
		return nil, nil, err
	}
	opts := s.Convert
	if ok {
		opts.EphemeralPorts, opts.BindAddress = st.EphemeralPorts, st.BindAddress
	}
	plan, err := convert.FromWorkspace(s.WS, sel, opts)
	return plan, sel, err
}

// makeMountDirs creates the workspace folders services bind (mounts:), owned by the
// developer: left to Docker they would be created owned by root.
func (s *Stack) makeMountDirs(sel *workspace.Selection) error {
	for _, name := range sel.Services {
		svc := s.WS.Services[name]
		if svc == nil {
			continue
		}
		for target, src := range svc.File.Mounts {
			abs, err := workspace.InsidePath(s.WS.Root, s.WS.Root, src)
			if err != nil {
				return fmt.Errorf("%s: mounts.%s: %w", svc.FilePath, target, err)
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return fmt.Errorf("%s: mounts.%s: %w", svc.FilePath, target, err)
			}
		}
	}
	return nil
}

// warnPrivileges prints one warning line per service that its service file makes privileged
// or gives the Docker socket: both are root on the host, so up says so every time.
func (s *Stack) warnPrivileges(sel *workspace.Selection) {
	for _, name := range sel.Services {
		svc := s.WS.Services[name]
		if svc == nil {
			continue
		}
		if svc.File.Privileged {
			fmt.Fprintf(s.Out, "warning: %s runs privileged (%s asks for it): it has full access to the host\n", name, svc.FilePath)
		}
		if svc.File.DockerSocket {
			fmt.Fprintf(s.Out, "warning: %s gets the Docker socket /var/run/docker.sock (%s asks for it): it controls the host's Docker\n", name, svc.FilePath)
		}
	}
}
