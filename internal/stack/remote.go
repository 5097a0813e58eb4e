package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Hosts says where a stack runs and builds.
//
// Build where the sources are, run where the capacity is: the containers run on Run (the
// daemon of DOCKER_HOST / the docker context, perhaps another machine); images are built
// for Run with Run's BuildKit, the context uploaded incrementally; build.sh runs here and
// its own docker commands talk to Build (this machine's daemon unless the workspace's
// clocal.local.yaml says build_host: run), and a base image Run lacks is copied from
// Build.
type Hosts struct {
	Run   engine.Host
	Build engine.Host
	// Connect opens a client to Build when a base image must be copied (nil:
	// engine.NewHostClient).
	Connect func(ctx context.Context, h engine.Host) (client.APIClient, error)
}

// BuildHostSetting values of clocal.local.yaml's build_host.
const (
	BuildHostLocal = "local" // this machine's daemon (the default)
	BuildHostRun   = "run"   // the daemon the stack runs on
)

// ResolveHosts returns the hosts of a stack running on run, with build_host as the
// workspace's clocal.local.yaml says: "" or "local" (this machine's daemon), "run" (the run
// host: build.sh's docker commands go where the stack runs), a Docker host URL
// (unix://, tcp://, ssh://) or a docker context name.
func ResolveHosts(run engine.Host, setting string) (Hosts, error) {
	h := Hosts{Run: run}
	switch {
	case setting == "" || setting == BuildHostLocal:
		h.Build = engine.ThisMachine(run)
	case setting == BuildHostRun:
		h.Build = run
	case strings.Contains(setting, "://"):
		h.Build = engine.Host{URL: setting}
	default:
		b, err := engine.ResolveHost("", setting)
		if err != nil {
			return h, fmt.Errorf("build_host: %w", err)
		}
		h.Build = b
	}
	return h, nil
}

// inherited says whether a process started by clocal (build.sh) reaches b through the
// environment it inherits (DOCKER_HOST, DOCKER_CONTEXT, the current context): not when
// clocal's --docker-host or --context chose another daemon.
func inherited(b engine.Host) bool {
	env, err := engine.ResolveHost("", "")
	return err == nil && env == b
}

// SetHosts makes the stack run on h.Run and build as h says. On a run host that is another
// machine, configs go in as content and workspace mounts are refused (convert.Options.Remote);
// on an ssh:// host the published ports are forwarded to this machine (see Endpoints).
func (s *Stack) SetHosts(h Hosts) {
	s.Hosts = h
	if s.remote == nil {
		s.remote = &remoteState{}
	}
	s.Convert.Remote = ""
	if !h.Run.Local() {
		s.Convert.Remote = h.Run.URL
	}
	s.Builder.ScriptDocker = ""
	if s.copies() || !inherited(h.Build) {
		if h.Build.Context != "" {
			s.Builder.ScriptDocker = h.Build.Context
		} else {
			s.Builder.ScriptDocker = h.Build.URL
		}
	}
	if rp, ok := s.Puller.(*registry.Puller); ok {
		rp.Digest = nil
		if !h.Run.Local() && s.Docker != nil {
			// The run host pulls, so whether a base's tag moved is asked there too: it may
			// reach registries this machine does not (a devbox in the data centre).
			rp.Digest = registry.DaemonDigest(s.Docker, s.Builder.Auth, 5*time.Second) // as newPuller's Remote
		}
	}
	if h.Run.IsSSH() {
		if _, wrapped := s.Engine.(*forwardingEngine); !wrapped && s.Engine != nil {
			s.Engine = &forwardingEngine{Engine: s.Engine, st: s}
		}
	}
}

// remoteState is what a stack on another host keeps while it runs.
type remoteState struct {
	mu          sync.Mutex
	buildDocker client.APIClient       // the build host, for image copies
	buildErr    error                  // it did not answer
	copying     map[string]*sync.Mutex // one copy per image at a time
	copied      []string
}

// Remote reports whether the stack runs on another machine.
func (s *Stack) Remote() bool { return s.Hosts.Run.URL != "" && !s.Hosts.Run.Local() }

// warnUnreachablePorts says so when the stack's ports will not answer here: a remote host
// reached over tcp:// publishes them on its own loopback, and only ssh:// hosts get
// forwards.
func (s *Stack) warnUnreachablePorts() {
	if !s.Remote() || s.Hosts.Run.IsSSH() {
		return
	}
	bind := s.Convert.BindAddress
	if bind == "" {
		bind = convert.DefaultBindAddress
	}
	if strings.HasPrefix(bind, "127.") || bind == "localhost" {
		fmt.Fprintf(s.Out, "warning: the ports are published on %s of %s, which this machine cannot reach: use an ssh:// Docker host (clocal forwards each port over ssh), or --bind 0.0.0.0 on a network you trust\n", bind, s.Hosts.Run)
	}
}

// checkRemoteFiles refuses, before anything is built or started, a service-file mount of a
// workspace folder when the stack runs on another machine (*convert.RemoteMountError).
func (s *Stack) checkRemoteFiles(sel *workspace.Selection) error {
	if s.Convert.Remote == "" {
		return nil
	}
	for _, name := range sel.Services {
		if svc := s.WS.Services[name]; svc != nil {
			if err := convert.RemoteMounts(svc, s.Convert.Remote); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildHostClient connects to the build host once per stack.
func (s *Stack) buildHostClient(ctx context.Context) (client.APIClient, error) {
	r := s.remote
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buildDocker != nil {
		return r.buildDocker, nil
	}
	if r.buildErr != nil {
		return nil, r.buildErr // no daemon here: asked once per stack
	}
	connect := s.Hosts.Connect
	if connect == nil {
		connect = engine.NewHostClient
	}
	c, err := connect(ctx, s.Hosts.Build)
	if err != nil {
		if errors.Is(err, engine.ErrDaemonUnreachable) {
			r.buildErr = err
		}
		return nil, err
	}
	r.buildDocker = c
	return c, nil
}

// copies reports whether images the run host lacks are copied from the build host (they
// are different daemons).
func (s *Stack) copies() bool {
	return s.remote != nil && s.Hosts.Build.URL != "" && s.Hosts.Build != s.Hosts.Run
}

// copyMissing copies from the build host (this machine's daemon) the images of refs that
// the run host lacks and the build host has, and returns the other refs (for the run
// host's puller: missing ones are pulled, present ones checked as on this machine). The pull policy always skips copies: the registry's image is wanted.
func (s *Stack) copyMissing(ctx context.Context, refs []string) ([]string, error) {
	if !s.copies() || s.Pull == registry.PullAlways || s.Docker == nil {
		return refs, nil
	}
	var left []string
	for _, ref := range refs {
		if strings.HasPrefix(ref, build.ImageRepoPrefix) {
			left = append(left, ref) // clocal's own builds are made on the run host
			continue
		}
		if _, err := s.Docker.ImageInspect(ctx, ref); err == nil {
			// there already: the puller decides (a base from a registry is checked
			// against it, as on this machine)
			left = append(left, ref)
			continue
		}
		ok, err := s.copyFromBuildHost(ctx, ref, func(line string) { fmt.Fprintln(s.Out, line) })
		if err != nil {
			return nil, err
		}
		if !ok {
			left = append(left, ref)
		}
	}
	return left, nil
}

// copyWants is copyMissing for the wants of EnsureImages.
func (s *Stack) copyWants(ctx context.Context, wants []registry.Want) ([]registry.Want, error) {
	if !s.copies() {
		return wants, nil
	}
	refs := make([]string, len(wants))
	for i, w := range wants {
		refs[i] = w.Image
	}
	left, err := s.copyMissing(ctx, refs)
	if err != nil {
		return nil, err
	}
	still := map[string]bool{}
	for _, r := range left {
		still[r] = true
	}
	out := wants[:0:0]
	for _, w := range wants {
		if still[w.Image] {
			out = append(out, w)
		}
	}
	return out, nil
}

// copyFromBuildHost copies ref from the build host to the run host when the run host lacks
// it and the build host has it (save, then load over the Engine API), and reports whether
// the run host has it now. Two services needing the same image wait for one copy.
func (s *Stack) copyFromBuildHost(ctx context.Context, ref string, log func(string)) (bool, error) {
	r := s.remote
	r.mu.Lock()
	if r.copying == nil {
		r.copying = map[string]*sync.Mutex{}
	}
	m := r.copying[ref]
	if m == nil {
		m = &sync.Mutex{}
		r.copying[ref] = m
	}
	r.mu.Unlock()
	m.Lock()
	defer m.Unlock()
	if _, err := s.Docker.ImageInspect(ctx, ref); err == nil {
		return true, nil // copied for another service meanwhile
	}
	from, err := s.buildHostClient(ctx)
	if err != nil {
		if errors.Is(err, engine.ErrDaemonUnreachable) {
			return false, nil // nothing to copy from: the build says the image is missing
		}
		return false, err
	}
	if _, err := from.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	log(fmt.Sprintf("copying image %s from %s to %s", ref, s.Hosts.Build, s.Hosts.Run))
	start := time.Now()
	n, err := build.CopyImage(ctx, from, s.Docker, ref)
	if err != nil {
		return false, fmt.Errorf("copy to %s: %w", s.Hosts.Run, err)
	}
	s.recordCopy(ref)
	log(fmt.Sprintf("copied image %s (%s) in %s", ref, humanBytes(n), time.Since(start).Round(10*time.Millisecond)))
	return true, nil
}

func (s *Stack) recordCopy(ref string) {
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	s.remote.copied = append(s.remote.copied, ref)
}

// Copied returns the images copied to the run host so far (base images a remote host
// lacked), for up's report.
func (s *Stack) Copied() []string {
	if s.remote == nil {
		return nil
	}
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	return append([]string(nil), s.remote.copied...)
}

// closeRemote releases the build host client.
func (s *Stack) closeRemote() {
	if s.remote == nil {
		return
	}
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	if s.remote.buildDocker != nil {
		_ = s.remote.buildDocker.Close()
		s.remote.buildDocker = nil
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// forwardingEngine keeps a remote stack's port forwards in step with its containers: after
// anything that may start a container (a new container, or a restarted one, gets new host
// ports when they are daemon-chosen) the forwards are refreshed before the call returns,
// so the dev loop says "ready" only once the laptop-side address reaches the new container.
// A down of the stack ends them.
type forwardingEngine struct {
	engine.Engine
	st *Stack
}

func (f *forwardingEngine) refresh(ctx context.Context, project string, err error) error {
	if err != nil || project != f.st.Name {
		return err
	}
	return f.st.RefreshForwards(ctx)
}

func (f *forwardingEngine) Up(ctx context.Context, p *types.Project, o engine.UpOptions) error {
	return f.refresh(ctx, p.Name, f.Engine.Up(ctx, p, o))
}

// Replace points the forward at the new container as soon as it is started, then waits
// for it to be ready: what answers here is the new container from its first request on,
// as on this machine's daemon (not only after the health wait).
func (f *forwardingEngine) Replace(ctx context.Context, p *types.Project, service string, o engine.ReplaceOptions) error {
	if o.NoWait || p.Name != f.st.Name {
		return f.refresh(ctx, p.Name, f.Engine.Replace(ctx, p, service, o))
	}
	started := o
	started.NoWait = true
	if err := f.refresh(ctx, p.Name, f.Engine.Replace(ctx, p, service, started)); err != nil {
		return err
	}
	if err := f.Engine.Wait(ctx, p.Name, []string{service}, o.WaitTimeout); err != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, err)
	}
	return nil
}

func (f *forwardingEngine) Start(ctx context.Context, project string, services []string) error {
	return f.refresh(ctx, project, f.Engine.Start(ctx, project, services))
}

func (f *forwardingEngine) Restart(ctx context.Context, project string, services []string, o engine.StopOptions) error {
	return f.refresh(ctx, project, f.Engine.Restart(ctx, project, services, o))
}

func (f *forwardingEngine) Down(ctx context.Context, project string, o engine.DownOptions) error {
	err := f.Engine.Down(ctx, project, o)
	if err == nil && project == f.st.Name {
		f.st.StopForwards()
	}
	return err
}

// Close ends the connections (the forwards of a stack left running stay).
func (f *forwardingEngine) Close() error {
	f.st.closeRemote()
	return f.Engine.Close()
}

// RunHostPorts returns the ports a container publishing on bind cannot have on the Docker
// host of docker: taken, published by a container of another project than project (its
// name) or listened on by a process of that machine (ssh:// hosts, engine.HostListeners:
// "a process of HOST"); own, the ports project's containers publish there. A daemon that
// does not answer gives empty maps and its error.
func RunHostPorts(ctx context.Context, docker client.APIClient, project, bind string) (taken map[int]string, own map[int]bool, err error) {
	taken, own = map[int]string{}, map[int]bool{}
	if docker == nil {
		return taken, own, nil
	}
	list, err := docker.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return taken, own, err
	}
	for _, c := range list {
		name := c.ID[:min(12, len(c.ID))]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, p := range c.Ports {
			if p.PublicPort == 0 {
				continue
			}
			port := int(p.PublicPort)
			switch {
			case project != "" && c.Labels[labels.ComposeProject] == project:
				own[port] = true
			case engine.Listener{IP: net.ParseIP(p.IP), Port: port}.Conflicts(bind, port):
				if _, ok := taken[port]; !ok {
					taken[port] = name
				}
			}
		}
	}
	ls, lerr := engine.HostListeners(ctx, docker)
	if lerr != nil && !errors.Is(lerr, engine.ErrNoShell) {
		return taken, own, lerr
	}
	host := docker.DaemonHost()
	for _, l := range ls {
		if _, ok := taken[l.Port]; ok || own[l.Port] || !l.Conflicts(bind, l.Port) {
			continue // a container's proxy, named above; or ours
		}
		taken[l.Port] = "a process of " + host
	}
	return taken, own, nil
}

// remotePortTaken is portTaken for a stack on another machine. A production port is taken
// when that machine has it (another container publishes it, a process there listens on
// it) and, on an ssh:// host, when this machine's end of its forward could not have the
// same number (taken here by something else than this stack's own forwards): the port is
// then published on a port the daemon picks, as on this machine. Asked once per
// conversion, when the first port is checked.
func (s *Stack) remotePortTaken(ctx context.Context, bind string) func(int) bool {
	var there map[int]string
	var ours map[int]bool // this stack's own forwards hold these ports here
	return func(port int) bool {
		if there == nil {
			there, _, _ = RunHostPorts(ctx, s.Docker, s.Name, bind)
			ours = map[int]bool{}
			if s.Hosts.Run.IsSSH() && s.WS != nil {
				for _, r := range s.loadForwards().Forwards {
					if _, p, err := net.SplitHostPort(r.Local); err == nil {
						n, _ := strconv.Atoi(p)
						ours[n] = true
					}
				}
			}
		}
		if _, ok := there[port]; ok {
			return true
		}
		if !s.Hosts.Run.IsSSH() || ours[port] {
			return false
		}
		return !bindable(bind, port)
	}
}
