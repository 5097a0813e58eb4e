// Package stacktest starts trimmed clocal stacks from Go tests.
//
//	func TestRepoManager(t *testing.T) {
//		s := stacktest.StartStack(t, "repo-manager")
//		resp, err := http.Get(s.URL("repo-manager") + "/healthz")
//		...
//	}
//
// Each call starts an isolated stack: a unique compose project name, host ports chosen free
// by the daemon, so any number of tests (and test binaries) can run stacks of the same
// profile in parallel. Teardown is registered with t.Cleanup and removes containers,
// networks and volumes of that project. The containers carry the test process's PID: if the
// test binary is killed before its cleanup runs, `clocal prune --stale` finds and removes
// the leftovers.
//
// The workspace is found like the clocal CLI finds it: $CLOCAL_WORKSPACE, or the nearest
// folder with clocal.yaml at or above the test's working directory (WithWorkspace
// overrides). When Docker is unreachable the test is skipped, except under CI=true where it
// fails.
//
// Stacks run on the Docker daemon DOCKER_HOST or the current docker context names, or on
// the one WithHost names, so a suite can spread its stacks over several hosts:
//
//	local := stacktest.StartStack(t, "kvstore")
//	remote := stacktest.StartStack(t, "repo-manager", stacktest.WithHost("ssh://ci-docker-2"))
//
// On an ssh:// host every address the Stack gives answers on this machine.
package stacktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Stack is a running test stack.
type Stack struct {
	// Project is the compose project name (pass it to `clocal -p` to look at the stack).
	Project string
	// Host is the Docker daemon the stack runs on (e.g. unix:///var/run/docker.sock,
	// ssh://devbox).
	Host string
	// Services maps each service of the closure to its published addresses.
	Services map[string]Service

	t testing.TB
}

// Service is one service's published ports.
type Service struct {
	// Addr is host:port of the service's first listening port ("" when none is published).
	Addr string
	// Ports maps each container port to its published host:port.
	Ports map[int]string
}

// URL returns http://host:port of service's first port; it fails the test when the
// service publishes nothing.
func (s *Stack) URL(service string) string {
	svc, ok := s.Services[service]
	if !ok || svc.Addr == "" {
		msg := fmt.Sprintf("stacktest: service %q publishes no port in %s", service, s.Project)
		if s.t == nil {
			panic(msg)
		}
		s.t.Helper()
		s.t.Fatal(msg)
	}
	return "http://" + svc.Addr
}

// Option changes how StartStack runs.
type Option func(*options)

type options struct {
	workspace string
	timeout   time.Duration
	log       io.Writer
	host      string
}

// WithHost runs the stack on another Docker daemon than the one DOCKER_HOST or the current
// docker context names: a URL (ssh://me@devbox, tcp://10.0.0.5:2376, unix:///…) or a docker
// context name. A suite can so spread its isolated stacks over several Docker hosts. Images
// are built for that host (build.sh runs here, against this machine's daemon), and on an
// ssh:// host every address of the Stack is this machine's end of a port forward that ends
// with the test.
func WithHost(host string) Option { return func(o *options) { o.host = host } }

// WithWorkspace names the workspace folder.
func WithWorkspace(dir string) Option { return func(o *options) { o.workspace = dir } }

// WithTimeout bounds build + start + health (default 5 minutes).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLog sends build and progress output to w (default: discarded; failures are reported
// in the test log anyway).
func WithLog(w io.Writer) Option { return func(o *options) { o.log = w } }

// StartStack builds what changed and starts target (a profile, service, job or host name)
// and its dependencies in an isolated project, waits until every service is healthy and
// registers the teardown with t.Cleanup.
//
// With CLOCAL_TEST_LANE=unit (a fast lane of pure tests, as clocal's scripts/test.sh --unit
// runs) the test is skipped: it needs the Docker daemon.
func StartStack(t testing.TB, target string, opts ...Option) *Stack {
	t.Helper()
	testutil.SkipInUnitLane(t, "the Docker daemon")
	o := options{timeout: 5 * time.Minute, log: io.Discard}
	for _, f := range opts {
		f(&o)
	}
	root := o.workspace
	if root == "" {
		cwd, err := os.Getwd()
		if err != nil {
			t.Fatalf("stacktest: %v", err)
		}
		if root, err = workspace.Find(cwd); err != nil {
			t.Fatalf("stacktest: %v", err)
		}
	}
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatalf("stacktest: workspace %s:\n%v", root, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	run, err := runHost(o.host)
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	name := stack.UniqueName(ws.ProjectName(), "t", 4)
	st, err := stack.Open(ctx, stack.Config{
		Workspace: ws, Name: name, Out: o.log, EphemeralPorts: true, Owner: true,
		DialOptions: engine.Options{Out: o.log, Err: o.log, ProgressMode: "quiet", Host: hostFlag(run), Context: run.Context},
		Host:        func() (engine.Host, error) { return run, nil },
	})
	if err != nil {
		if errors.Is(err, engine.ErrDaemonUnreachable) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("stacktest: CI=true and Docker is unreachable: %v", err)
			}
			t.Skipf("stacktest: Docker unreachable: %v", err)
		}
		t.Fatalf("stacktest: %v", err)
	}
	docker := st.Docker

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		timeout := 5 * time.Second
		if err := st.Engine.Down(ctx, name, engine.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &timeout}); err != nil {
			t.Errorf("stacktest: tear down %s: %v (remove it with: clocal down -v -p %s)", name, err, name)
		}
		st.RemoveState() // ends the port forwards of a remote host too
		_ = st.Engine.Close()
		_ = docker.Close()
	})
	res, err := st.Up(ctx, []string{target}, stack.UpOptions{Wait: true, WaitTimeout: o.timeout})
	if err != nil {
		t.Fatalf("stacktest: up %s (project %s): %v", target, name, err)
	}
	eps, err := st.Endpoints(ctx, res.Plan)
	if err != nil {
		t.Fatalf("stacktest: %v", err)
	}
	out := &Stack{Project: name, Host: run.URL, Services: map[string]Service{}, t: t}
	for _, s := range res.Selection.Services {
		out.Services[s] = Service{Ports: map[int]string{}}
	}
	for _, e := range eps {
		svc, ok := out.Services[e.Service]
		if !ok {
			continue
		}
		if svc.Addr == "" {
			svc.Addr = e.Address()
		}
		svc.Ports[e.Port] = e.Address()
		out.Services[e.Service] = svc
	}
	return out
}

// runHost resolves WithHost's value (a URL or a context name; "" as the docker CLI would).
func runHost(h string) (engine.Host, error) {
	switch {
	case h == "":
		return engine.ResolveHost("", "")
	case strings.Contains(h, "://"):
		return engine.Host{URL: h}, nil
	default:
		return engine.ResolveHost("", h)
	}
}

// hostFlag is the engine's Host option for run (empty when a context names it).
func hostFlag(run engine.Host) string {
	if run.Context != "" {
		return ""
	}
	return run.URL
}
