package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/compose/v2/pkg/api"
	"github.com/docker/compose/v2/pkg/compose"
	"github.com/docker/compose/v2/pkg/progress"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/sirupsen/logrus"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/labels"
)

// Options configure [New].
type Options struct {
	// Out and Err receive everything the engine prints: progress goes to Err (compose's
	// "status" stream), exec output to Out/Err. nil discards.
	Out, Err io.Writer
	// In feeds [Engine.Exec] with Interactive. nil is an empty input.
	In io.Reader
	// ProgressMode is compose's progress display: auto (default: tty when Err is a
	// terminal, plain otherwise), tty, plain, quiet or json.
	ProgressMode string
	// Host overrides DOCKER_HOST and the docker context (like `docker -H`).
	Host string
	// Context selects a docker context by name (like `docker --context`). By default
	// the engine resolves the daemon like the docker CLI: DOCKER_HOST, then
	// DOCKER_CONTEXT, then the current context of ~/.docker/config.json.
	Context string
	// MaxConcurrency bounds parallel API calls of compose (0: unbounded).
	MaxConcurrency int
}

var progressModes = map[string]bool{
	progress.ModeAuto: true, progress.ModeTTY: true, progress.ModePlain: true,
	progress.ModeQuiet: true, progress.ModeJSON: true,
}

// New connects to the Docker daemon the way the docker CLI would and returns the
// compose-library engine. It pings the daemon first (within [PingTimeout]) so a dead
// daemon fails fast with an error matching [ErrDaemonUnreachable].
//
// New is cheap enough to call again (or use [Engine.Reconnect]) after a daemon restart.
// One caveat: compose caches the daemon's API version per process the first time it
// needs it; New fills that cache right after a successful ping, so it never holds an
// error (it would otherwise stay broken for the life of the process).
func New(ctx context.Context, o Options) (Engine, error) {
	mode := o.ProgressMode
	if mode == "" {
		mode = progress.ModeAuto
	}
	if !progressModes[mode] {
		return nil, fmt.Errorf("engine: unknown progress mode %q (want auto, tty, plain, quiet or json)", o.ProgressMode)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.In == nil {
		o.In = strings.NewReader("")
	}
	// compose writes progress events from one goroutine per service: writers that are not
	// files (buffers in tests, a test log) get one lock shared by Out and Err. Files are
	// left as they are (concurrent writes are safe, and compose looks at them to detect a
	// terminal).
	var mu sync.Mutex
	o.Out, o.Err = lockWriter(o.Out, &mu), lockWriter(o.Err, &mu)
	c, err := connect(ctx, o)
	if err != nil {
		return nil, err
	}
	setGlobals(mode, o.Err)
	return &composeEngine{opts: o, c: c}, nil
}

var globalsMu sync.Mutex

// lockedWriter serialises writes to a writer that is not safe for concurrent use.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func lockWriter(w io.Writer, mu *sync.Mutex) io.Writer {
	switch w.(type) {
	case *os.File, *lockedWriter:
		return w
	}
	return &lockedWriter{mu: mu, w: w}
}

// setGlobals sets the process-wide settings of the compose library.
func setGlobals(mode string, errW io.Writer) {
	globalsMu.Lock()
	defer globalsMu.Unlock()
	progress.Mode = mode
	// compose logs warnings (orphans, volumes...) through logrus' standard logger,
	// which writes to os.Stderr by default.
	logrus.SetOutput(errW)
	logrus.SetFormatter(plainFormatter{})
}

// plainFormatter prints "warning: message" lines.
type plainFormatter struct{}

func (plainFormatter) Format(e *logrus.Entry) ([]byte, error) {
	return []byte(e.Level.String() + ": " + strings.TrimRight(e.Message, "\n") + "\n"), nil
}

// conn is one connection to the daemon: API client, docker CLI object, compose service.
type conn struct {
	api    client.APIClient
	cli    command.Cli
	svc    api.Compose
	probes *prober // clocal's readiness probes (ready.go)
}

func connect(ctx context.Context, o Options) (*conn, error) {
	opts := clientOptions(o.Host, o.Context)

	h, err := ResolveHost(o.Host, o.Context)
	if err != nil {
		return nil, err
	}
	// Build the API client ourselves: DockerCli.Client() calls os.Exit on endpoint errors.
	cfg := config.LoadDefaultConfigFile(o.Err)
	apiClient, err := newClient(ctx, h, opts, cfg)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, apiClient); err != nil {
		_ = apiClient.Close()
		return nil, err
	}

	dockerCli, err := command.NewDockerCli(
		command.WithOutputStream(o.Out),
		command.WithErrorStream(o.Err),
		command.WithInputStream(io.NopCloser(o.In)),
	)
	if err != nil {
		_ = apiClient.Close()
		return nil, fmt.Errorf("docker cli: %w", err)
	}
	if err := dockerCli.Initialize(opts, command.WithAPIClient(apiClient)); err != nil {
		_ = apiClient.Close()
		return nil, fmt.Errorf("docker cli: %w", err)
	}
	// Run the CLI's lazy initialisation now, while we know the daemon answers.
	_ = dockerCli.ServerInfo()

	errW := o.Err
	svc := compose.NewComposeService(dockerCli, compose.WithPrompt(func(msg string, def bool) (bool, error) {
		_, _ = fmt.Fprintf(errW, "%s (answering %v: clocal does not prompt)\n", strings.TrimSpace(msg), def)
		return def, nil
	}))
	if o.MaxConcurrency > 0 {
		svc.MaxConcurrency(o.MaxConcurrency)
	}
	if rv, ok := svc.(interface {
		RuntimeVersion(context.Context) (string, error)
	}); ok {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := rv.RuntimeVersion(wctx)
		cancel()
		if err != nil {
			_ = apiClient.Close()
			return nil, fmt.Errorf("compose cached a failed daemon version lookup earlier in this process, restart clocal: %w", daemonErr(apiClient, err))
		}
	}
	return &conn{api: apiClient, cli: dockerCli, svc: svc, probes: newProber(apiClient)}, nil
}

// composeEngine implements Engine with the compose library.
type composeEngine struct {
	opts Options
	mu   sync.RWMutex
	c    *conn
}

var errClosed = errors.New("engine: closed")

func (e *composeEngine) conn() (*conn, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.c == nil {
		return nil, errClosed
	}
	return e.c, nil
}

func (e *composeEngine) Reconnect(ctx context.Context) error {
	c, err := connect(ctx, e.opts)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.c
	e.c = c
	e.mu.Unlock()
	if old != nil {
		_ = old.api.Close()
	}
	return nil
}

func (e *composeEngine) Close() error {
	e.mu.Lock()
	old := e.c
	e.c = nil
	e.mu.Unlock()
	if old == nil {
		return nil
	}
	return old.api.Close()
}

func (e *composeEngine) Ping(ctx context.Context) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	return ping(ctx, c.api)
}

func recreate(p RecreatePolicy) (string, error) {
	switch p {
	case "", RecreateDiverged:
		return api.RecreateDiverged, nil
	case RecreateForce:
		return api.RecreateForce, nil
	case RecreateNever:
		return api.RecreateNever, nil
	}
	return "", fmt.Errorf("unknown recreate policy %q", p)
}

// narrow returns a deep copy of p restricted to services (nil: all) and, unless
// IgnoreDependencies is given, their dependencies; with compose labels set and
// pull_policy forced to never (pull policy is not part of compose's config hash).
func narrow(p *types.Project, services []string, deps ...types.DependencyOption) (*types.Project, error) {
	for _, s := range services {
		if _, err := p.GetService(s); err != nil {
			return nil, err
		}
	}
	cp, err := p.WithSelectedServices(services, deps...)
	if err != nil {
		return nil, err
	}
	convert.SetComposeLabels(cp)
	for name, s := range cp.Services {
		s.PullPolicy = types.PullPolicyNever
		cp.Services[name] = s
	}
	return cp, nil
}

// checkImages fails, naming them, when service images are not present locally.
func (c *conn) checkImages(ctx context.Context, p *types.Project) error {
	var missing []string
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.GetScale() == 0 || s.Provider != nil {
			continue
		}
		img := api.GetImageNameOrDefault(s, p.Name)
		if _, err := c.api.ImageInspect(ctx, img); err != nil {
			if errdefs.IsNotFound(err) {
				missing = append(missing, fmt.Sprintf("%s (service %s)", img, name))
				continue
			}
			return daemonErr(c.api, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("images not present locally: %s (the engine never pulls: clocal up pulls images first unless --pull never)", strings.Join(missing, ", "))
	}
	return nil
}

func waitable(p *types.Project, services []string) []string {
	var out []string
	for _, name := range services {
		if s, ok := p.Services[name]; ok && s.GetScale() > 0 && s.Provider == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (e *composeEngine) Up(ctx context.Context, p *types.Project, o UpOptions) error {
	if p == nil {
		return errors.New("up: nil project")
	}
	c, err := e.conn()
	if err != nil {
		return err
	}
	rec, err := recreate(o.Recreate)
	if err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	recDeps, err := recreate(o.RecreateDependencies)
	if err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	var deps []types.DependencyOption
	if o.NoDeps {
		deps = append(deps, types.IgnoreDependencies)
	}
	proj, err := narrow(p, o.Services, deps...)
	if err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	if err := c.checkImages(ctx, proj); err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	// compose's Up is Create then Start. Create recreates whatever changed; the start is
	// clocal's own walk of the dependency graph (startInOrder: each service once its
	// dependencies are ready by clocal's readiness probes, nothing polled when everything
	// already runs), bounded by the wait timeout; then readiness of the whole project.
	started := time.Now()
	var startTimeout time.Duration
	if o.Wait {
		startTimeout = o.WaitTimeout
	}
	err = c.svc.Create(ctx, proj, api.CreateOptions{
		Services:             o.Services,
		RemoveOrphans:        o.RemoveOrphans,
		Recreate:             rec,
		RecreateDependencies: recDeps,
		Inherit:              !o.RenewAnonVolumes,
		Timeout:              o.StopTimeout,
		QuietPull:            true,
	})
	if err != nil {
		return fmt.Errorf("up %s: %w", p.Name, daemonErr(c.api, err))
	}
	if err := c.startInOrder(ctx, proj, startTimeout); err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	if !o.Wait {
		return nil
	}
	left := o.WaitTimeout
	if left > 0 {
		left = max(left-time.Since(started), waitInterval)
	}
	if err := c.waitReady(ctx, proj.Name, waitable(proj, proj.ServiceNames()), dependencyNames(dependencies(proj)), left, o.WaitTimeout); err != nil {
		return fmt.Errorf("up %s: %w", p.Name, err)
	}
	return nil
}

func (e *composeEngine) Replace(ctx context.Context, p *types.Project, service string, o ReplaceOptions) error {
	if p == nil {
		return errors.New("replace: nil project")
	}
	c, err := e.conn()
	if err != nil {
		return err
	}
	proj, err := narrow(p, []string{service}, types.IgnoreDependencies)
	if err != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, err)
	}
	if err := c.checkImages(ctx, proj); err != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, err)
	}
	deps := dependencyNames(dependencies(p))[service]
	started := time.Now()
	if !o.NoWait && len(deps) > 0 {
		// Dependencies first: a service replaced while a dependency is starting (being
		// replaced itself, restarting) may exit at start for a reason that is not its
		// own. The previous container keeps serving meanwhile. A dependency stopped on
		// purpose is not waited for.
		if err := c.waitDependencies(ctx, p.Name, service, deps, o.WaitTimeout); err != nil {
			return fmt.Errorf("replace %s/%s: %w", p.Name, service, err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, &InterruptedError{Service: service, Err: ctx.Err()})
	}
	// The container change is not cut short by ctx: compose creates the new container,
	// stops and removes the old one, renames and starts the new one, and an end in
	// between leaves the service without a running container (a Ctrl-C mid-replace).
	upCtx, cancelUp := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout(proj.Services[service], o.StopTimeout))
	defer cancelUp()
	var stopNotice func() bool
	if o.Interrupted != nil {
		stopNotice = context.AfterFunc(ctx, o.Interrupted)
	}
	err = c.svc.Up(upCtx, proj, api.UpOptions{
		Create: api.CreateOptions{
			Services:             []string{service},
			IgnoreOrphans:        true,
			Recreate:             api.RecreateForce,
			RecreateDependencies: api.RecreateNever,
			Inherit:              !o.RenewAnonVolumes,
			Timeout:              o.StopTimeout,
			QuietPull:            true,
		},
		Start: api.StartOptions{
			Project:  proj,
			Services: []string{service},
		},
	})
	if stopNotice != nil {
		defer stopNotice() // the wait below is skipped when ctx ends
	}
	if err != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, daemonErr(c.api, err))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, &InterruptedError{Service: service, Replaced: true, Err: ctx.Err()})
	}
	if o.NoWait {
		return nil
	}
	left := o.WaitTimeout
	if left > 0 {
		left = max(left-time.Since(started), waitInterval)
	}
	err = c.waitReady(ctx, proj.Name, waitable(proj, []string{service}), map[string][]string{service: deps}, left, o.WaitTimeout)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, &InterruptedError{Service: service, Replaced: true, Err: ctx.Err()})
	}
	var we *WaitError
	if errors.As(err, &we) && we.Timeout > 0 && len(deps) > 0 {
		// Timed out: the service's own failure only if its dependencies were ready.
		if pending, failed, rerr := c.readiness(ctx, p.Name, deps); rerr == nil && len(pending)+len(failed) > 0 {
			for s, r := range failed {
				pending[s] = r
			}
			return fmt.Errorf("replace %s/%s: %w", p.Name, service, &DependencyError{Service: service, Err: &WaitError{Timeout: we.Timeout, Services: pending}, Replaced: true})
		}
	}
	if err != nil {
		return fmt.Errorf("replace %s/%s: %w", p.Name, service, err)
	}
	return nil
}

// settleTimeout bounds a replace's container change: ReplaceSettleTimeout plus the old
// container's graceful stop (o.StopTimeout, else the service's stop_grace_period, else
// Docker's 10 s).
func settleTimeout(sc types.ServiceConfig, stop *time.Duration) time.Duration {
	switch {
	case stop != nil:
		return ReplaceSettleTimeout + *stop
	case sc.StopGracePeriod != nil:
		return ReplaceSettleTimeout + time.Duration(*sc.StopGracePeriod)
	}
	return ReplaceSettleTimeout + 10*time.Second
}

func (e *composeEngine) Down(ctx context.Context, project string, o DownOptions) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	// compose keeps anonymous volumes unless it also removes named ones: collect them
	// first and remove them after the containers are gone.
	var anon []string
	if !o.Volumes {
		anon, err = c.anonymousVolumes(ctx, project)
		if err != nil {
			return fmt.Errorf("down %s: %w", project, daemonErr(c.api, err))
		}
	}
	proj, err := c.projectFromLabels(ctx, project)
	if err != nil {
		return fmt.Errorf("down %s: %w", project, daemonErr(c.api, err))
	}
	err = c.svc.Down(ctx, project, api.DownOptions{
		Project:       proj,
		RemoveOrphans: o.RemoveOrphans,
		Timeout:       o.Timeout,
		Volumes:       o.Volumes,
	})
	if err != nil {
		return fmt.Errorf("down %s: %w", project, daemonErr(c.api, err))
	}
	var errs []error
	for _, v := range anon {
		if err := c.api.VolumeRemove(ctx, v, false); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
			errs = append(errs, fmt.Errorf("remove anonymous volume %s: %w", v, daemonErr(c.api, err)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("down %s: %w", project, errors.Join(errs...))
	}
	return nil
}

func (e *composeEngine) Ps(ctx context.Context, project string, o PsOptions) ([]Container, error) {
	c, err := e.conn()
	if err != nil {
		return nil, err
	}
	if o.Quick {
		out, err := c.quickPs(ctx, project, o)
		if err != nil {
			return nil, fmt.Errorf("ps %s: %w", project, daemonErr(c.api, err))
		}
		sortContainers(out)
		return out, nil
	}
	sums, err := c.svc.Ps(ctx, project, api.PsOptions{All: o.All, Services: o.Services})
	if err != nil {
		return nil, fmt.Errorf("ps %s: %w", project, daemonErr(c.api, err))
	}
	out := make([]Container, 0, len(sums))
	for _, s := range sums {
		ctr := Container{
			ID:       s.ID,
			Name:     s.Name,
			Project:  s.Project,
			Service:  s.Service,
			Image:    s.Image,
			State:    s.State,
			Status:   s.Status,
			Health:   s.Health,
			ExitCode: s.ExitCode,
			Created:  time.Unix(s.Created, 0),
			Labels:   s.Labels,
		}
		ctr.Health = c.health(container.Summary{ID: s.ID, State: s.State, Labels: s.Labels}, ctr.Health)
		for _, p := range s.Publishers {
			ctr.Publishers = append(ctr.Publishers, Publisher{
				HostIP:        p.URL,
				PublishedPort: p.PublishedPort,
				TargetPort:    p.TargetPort,
				Protocol:      p.Protocol,
			})
		}
		out = append(out, ctr)
	}
	sortContainers(out)
	return out, nil
}

func sortContainers(out []Container) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Name < out[j].Name
	})
}

// quickPs is Ps from the container list alone (see [PsOptions.Quick]).
func (c *conn) quickPs(ctx context.Context, project string, o PsOptions) ([]Container, error) {
	list, err := serviceContainers(ctx, c.api, strings.ToLower(project), o.All)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range o.Services {
		want[s] = true
	}
	var out []Container
	for _, ctr := range list {
		svc := ctr.Labels[labels.ComposeService]
		if len(want) > 0 && !want[svc] {
			continue
		}
		name := ctr.ID
		if len(ctr.Names) > 0 {
			name = strings.TrimPrefix(ctr.Names[0], "/")
		}
		health, exit := statusDetails(ctr.State, ctr.Status)
		health = c.health(ctr, health)
		x := Container{
			ID: ctr.ID, Name: name, Project: ctr.Labels[labels.ComposeProject], Service: svc,
			Image: ctr.Image, State: ctr.State, Status: ctr.Status, Health: health,
			ExitCode: exit, Created: time.Unix(ctr.Created, 0), Labels: ctr.Labels,
		}
		ports := append([]container.Port(nil), ctr.Ports...)
		sort.Slice(ports, func(i, j int) bool { return ports[i].PrivatePort < ports[j].PrivatePort })
		for _, p := range ports {
			x.Publishers = append(x.Publishers, Publisher{
				HostIP: p.IP, PublishedPort: int(p.PublicPort), TargetPort: int(p.PrivatePort), Protocol: p.Type,
			})
		}
		out = append(out, x)
	}
	return out, nil
}

// health is the health to show for a container: "healthy" when Docker's status is still
// "starting" but clocal's readiness probe found it ready (Docker's own first probe is
// minutes away with slow healthchecks, see ready.go).
func (c *conn) health(ctr container.Summary, docker string) string {
	if docker == container.Starting {
		if _, ok := c.probes.recordedStart(ctr); ok {
			return container.Healthy
		}
	}
	return docker
}

// statusDetails reads health and exit code from the daemon's status text, the way
// `docker ps` shows them: "Up 5 minutes (healthy)", "Up 2 seconds (health: starting)",
// "Exited (137) 3 seconds ago".
func statusDetails(state, status string) (health string, exitCode int) {
	switch state {
	case container.StateRunning:
		switch {
		case strings.Contains(status, "(healthy)"):
			health = container.Healthy
		case strings.Contains(status, "(unhealthy)"):
			health = container.Unhealthy
		case strings.Contains(status, "(health: starting)"):
			health = container.Starting
		}
	case container.StateExited, container.StateDead:
		if i := strings.Index(status, "("); i >= 0 {
			if j := strings.Index(status[i:], ")"); j > 0 {
				exitCode, _ = strconv.Atoi(status[i+1 : i+j])
			}
		}
	}
	return health, exitCode
}

func (e *composeEngine) Start(ctx context.Context, project string, services []string) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	// The project as its containers' labels describe it (depends_on included), started in
	// dependency order by clocal's readiness (startInOrder): compose's Start would wait for
	// Docker's own health status, which the slow probes give only minutes later.
	proj, err := c.projectFromLabels(ctx, project)
	if err != nil {
		return fmt.Errorf("start %s: %w", project, daemonErr(c.api, err))
	}
	if len(services) > 0 {
		if proj, err = proj.WithSelectedServices(services); err != nil {
			return fmt.Errorf("start %s: %w", project, err)
		}
	}
	if err := c.startInOrder(ctx, proj, 0); err != nil {
		return fmt.Errorf("start %s: %w", project, err)
	}
	return nil
}

func (e *composeEngine) Stop(ctx context.Context, project string, services []string, o StopOptions) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	err = c.svc.Stop(ctx, project, api.StopOptions{Services: services, Timeout: o.Timeout})
	if err != nil {
		return fmt.Errorf("stop %s: %w", project, daemonErr(c.api, err))
	}
	return nil
}

func (e *composeEngine) Restart(ctx context.Context, project string, services []string, o StopOptions) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	err = c.restart(ctx, project, services, o)
	if err != nil {
		return fmt.Errorf("restart %s: %w", project, daemonErr(c.api, err))
	}
	return nil
}

func (e *composeEngine) Wait(ctx context.Context, project string, services []string, timeout time.Duration) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	if len(services) == 0 {
		ctrs, err := serviceContainers(ctx, c.api, project, true)
		if err != nil {
			return fmt.Errorf("wait %s: %w", project, daemonErr(c.api, err))
		}
		seen := map[string]bool{}
		for _, ctr := range ctrs {
			if s := ctr.Labels[labels.ComposeService]; s != "" && !seen[s] {
				seen[s] = true
				services = append(services, s)
			}
		}
	}
	if err := c.waitReady(ctx, project, services, nil, timeout, timeout); err != nil {
		return fmt.Errorf("wait %s: %w", project, err)
	}
	return nil
}

func (e *composeEngine) Exec(ctx context.Context, project, service string, o ExecOptions) (int, error) {
	c, err := e.conn()
	if err != nil {
		return 0, err
	}
	if len(o.Cmd) == 0 {
		return 0, fmt.Errorf("exec %s/%s: empty command", project, service)
	}
	code, err := c.svc.Exec(ctx, project, api.RunOptions{
		Service:     service,
		Command:     o.Cmd,
		Tty:         o.TTY,
		Interactive: o.Interactive,
		User:        o.User,
		WorkingDir:  o.WorkDir,
		Environment: o.Env,
		Index:       o.Index,
	})
	var se cli.StatusError
	if errors.As(err, &se) && se.StatusCode != 0 {
		return se.StatusCode, nil
	}
	if err != nil {
		return code, fmt.Errorf("exec %s/%s: %w", project, service, daemonErr(c.api, err))
	}
	return code, nil
}
