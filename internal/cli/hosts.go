package cli

import (
	"context"
	"fmt"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/doctor"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
)

// RunHost is the Docker daemon stacks run on, as the docker CLI resolves it (with
// --docker-host or --context, if given).
func (f *Factory) RunHost() (engine.Host, error) {
	if f.Host != nil {
		return f.Host()
	}
	return engine.ResolveHost(f.DockerHost, f.DockerContext)
}

// clientsEngine is the engine of a command with the Docker client it was opened with:
// closing it closes both.
type clientsEngine struct {
	engine.Engine
	docker client.APIClient
}

func (c *clientsEngine) Close() error {
	err := c.Engine.Close()
	if c.docker != nil {
		_ = c.docker.Close()
	}
	return err
}

func remoteKey(container string, port int) string { return fmt.Sprintf("%s/%d", container, port) }

// remoteAddresses maps each published port of ctrs (containers of project) to the address
// that reaches it from this machine, when the stack runs on another machine; nil for a
// stack on this machine's daemon. It goes through the stack layer's endpoints, which keep
// the port forwards of an ssh:// host (complete: ctrs are all the stack's containers).
func (f *Factory) remoteAddresses(ctx context.Context, project string, eng engine.Engine, ctrs []engine.Container, complete bool) (map[string]stack.Endpoint, error) {
	host, err := f.RunHost()
	if err != nil || host.Local() {
		return nil, nil
	}
	ws, err := f.Workspace()
	if err != nil {
		return nil, nil // outside the workspace: the bindings on the Docker host
	}
	st := stack.New(ws, project, eng, nil, f.IO.ErrOut)
	if state, ok := st.LoadState(); ok {
		st.Convert.BindAddress = state.BindAddress
	}
	st.SetHosts(stack.Hosts{Run: host, Build: host})
	eps, err := st.ContainerEndpoints(ctx, ctrs, complete)
	if err != nil {
		return nil, err
	}
	out := map[string]stack.Endpoint{}
	for _, e := range eps {
		out[remoteKey(e.Container, e.Port)] = e
	}
	return out, nil
}

// doctorHosts tells doctor where stacks run and build (unresolvable hosts are left to the
// docker check, which reports them).
func (f *Factory) doctorHosts(env *doctor.Env) {
	run, err := f.RunHost()
	if err != nil {
		return
	}
	env.Run = run
	if env.WS != nil {
		if h, err := stack.ResolveHosts(run, env.WS.Local.BuildHost); err == nil {
			env.Build = h.Build
		}
	}
}

// doctorBuildDocker connects doctor to this machine's daemon when stacks run elsewhere
// (images build.sh runs, images up copies); the caller closes it. nil when it is the run
// host or does not answer (the build-host check reports that).
func doctorBuildDocker(ctx context.Context, env *doctor.Env) func() {
	if env.Run.Local() || env.Build.URL == "" || env.Build == env.Run {
		return func() {}
	}
	c, err := engine.NewHostClient(ctx, env.Build)
	if err != nil {
		return func() {}
	}
	env.BuildDocker = c
	return func() { _ = c.Close() }
}
