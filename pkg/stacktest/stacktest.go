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
package stacktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Stack is a running test stack.
type Stack struct {
	// Project is the compose project name (pass it to `clocal -p` to look at the stack).
	Project string
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
}

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
func StartStack(t testing.TB, target string, opts ...Option) *Stack {
	t.Helper()
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
	name := stack.UniqueName(ws.ProjectName(), "t", 4)
	st, err := stack.Open(ctx, stack.Config{
		Workspace: ws, Name: name, Out: o.log, EphemeralPorts: true, Owner: true,
		DialOptions: engine.Options{Out: o.log, Err: o.log, ProgressMode: "quiet"},
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
	eng, docker := st.Engine, st.Docker

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		timeout := 5 * time.Second
		if err := eng.Down(ctx, name, engine.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &timeout}); err != nil {
			t.Errorf("stacktest: tear down %s: %v (remove it with: clocal down -v -p %s)", name, err, name)
		}
		st.RemoveState()
		_ = eng.Close()
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
	out := &Stack{Project: name, Services: map[string]Service{}, t: t}
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
