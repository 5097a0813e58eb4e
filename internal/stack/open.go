package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Config says how to open a stack. The CLI and pkg/stacktest both open stacks through
// [Open], so a stack behaves the same from a terminal and from a Go test.
type Config struct {
	// Workspace is the loaded workspace (required).
	Workspace *workspace.Workspace
	// Name is the compose project name ("" = the workspace default).
	Name string
	// Out receives clocal's progress lines and the build output.
	Out io.Writer
	// EphemeralPorts publishes ports on daemon-chosen host ports; BindAddress is the host
	// address ports are published on ("" = 127.0.0.1).
	EphemeralPorts bool
	BindAddress    string
	// Owner labels every container with this process (test stacks): `clocal prune
	// --stale` removes the stack once the process is gone.
	Owner bool
	// Connect reaches the daemon; nil = [Dial] with DialOptions.
	Connect func(ctx context.Context) (engine.Engine, client.APIClient, error)
	// DialOptions configure the default connection (progress mode, streams, host).
	DialOptions engine.Options
	// Host resolves the daemon the stack runs on, for SetHosts (nil: DialOptions' Host or
	// Context, else as the docker CLI resolves it). The workspace's build_host decides
	// where build.sh's docker goes.
	Host func() (engine.Host, error)
	// RouterExecutable is a clocal executable serving `clocal __router` (Stack.RouterExecutable).
	RouterExecutable string
}

// Open connects to the Docker daemon and returns the workspace's stack: the one place where
// a Stack is put together (engine, Docker client, builder with its backend and parallel
// jobs from the environment, port options,
// owner labels). The caller closes s.Engine (and s.Docker).
func Open(ctx context.Context, c Config) (*Stack, error) {
	if c.Workspace == nil {
		return nil, fmt.Errorf("open stack: no workspace")
	}
	backend, err := build.BackendFromEnv()
	if err != nil {
		return nil, err
	}
	jobs, err := build.JobsFromEnv()
	if err != nil {
		return nil, err
	}
	connect := c.Connect
	if connect == nil {
		connect = func(ctx context.Context) (engine.Engine, client.APIClient, error) {
			return Dial(ctx, c.DialOptions)
		}
	}
	eng, docker, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	s := New(c.Workspace, c.Name, eng, docker, c.Out)
	s.Builder.Backend, s.Builder.Jobs = backend, jobs
	s.Convert.EphemeralPorts = c.EphemeralPorts
	s.Convert.BindAddress = c.BindAddress
	s.RouterExecutable = c.RouterExecutable
	if c.Owner {
		s.Labels = OwnerLabels()
	}
	resolve := c.Host
	if resolve == nil {
		resolve = func() (engine.Host, error) { return engine.ResolveHost(c.DialOptions.Host, c.DialOptions.Context) }
	}
	run, err := resolve()
	if err == nil {
		var hosts Hosts
		if hosts, err = ResolveHosts(run, c.Workspace.Local.BuildHost); err == nil {
			s.SetHosts(hosts)
		}
	}
	if err != nil {
		_ = eng.Close()
		_ = docker.Close()
		return nil, err
	}
	return s, nil
}

// Dial connects to the daemon the docker CLI would use (o.Host, else DOCKER_HOST, else the
// current context): the compose engine, pinged, and an API client for the same daemon.
// An unreachable daemon fails within engine.PingTimeout with one line saying how to fix it.
func Dial(ctx context.Context, o engine.Options) (engine.Engine, client.APIClient, error) {
	eng, err := engine.New(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if err := eng.Ping(ctx); err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	docker, err := engine.NewAPIClient(ctx, o.Host, o.Context)
	if err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	return eng, docker, nil
}

// UniqueName returns base-<prefix><random hex>: the project name of an isolated stack
// (`clocal up --isolated`, pkg/stacktest) that no other stack has.
func UniqueName(base, prefix string, nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b)
	return base + "-" + prefix + hex.EncodeToString(b)
}
