package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestDaemonUnreachable: with no daemon at DOCKER_HOST (a missing socket, or a socket that
// accepts and never answers) every command fails with exit 1 and one line saying how to fix
// it, in about 2 s, before touching anything.
func TestDaemonUnreachable(t *testing.T) {
	root := repoRoot(t)
	clocalBinary(t) // built before the clock starts
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() }) // after the parallel subtests, not when this function returns
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // never answer
		}
	}()
	hosts := map[string]string{
		"missing socket": "unix:///nonexistent.sock",
		"silent daemon":  "tcp://" + silent.Addr().String(),
	}
	for name, host := range hosts {
		for _, args := range [][]string{{"up", "repo-manager"}, {"ps"}, {"down"}, {"watch", "repo-manager"}} {
			t.Run(name+"/"+args[0], func(t *testing.T) {
				t.Parallel() // each waits for its ping to time out: at once, not one after another
				start := time.Now()
				r := runClocal(t, time.Minute, []string{"DOCKER_HOST=" + host, "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY="},
					append([]string{"-w", root, "-p", testProject(t)}, args...)...)
				took := time.Since(start)
				t.Logf("%s: exit %d in %s: %s", host, r.Code, took.Round(time.Millisecond), strings.TrimSpace(r.Err))
				if r.Code != ExitFailure {
					t.Errorf("exit %d, want 1", r.Code)
				}
				lines := strings.Split(strings.TrimSpace(r.Err), "\n")
				if len(lines) != 1 {
					t.Errorf("want one line, got %d:\n%s", len(lines), r.Err)
				}
				if !strings.Contains(r.Err, "cannot reach the Docker daemon") || !strings.Contains(r.Err, "DOCKER_HOST") {
					t.Errorf("message does not say what is wrong and how to fix it: %s", r.Err)
				}
				// runClocal fails a run that hangs; how fast the answer comes is measured by
				// scripts/bench/unreachable (PingTimeout bounds it), not asserted here.
			})
		}
	}
}

// dockerProxy forwards a unix socket to the real daemon's; stop and start simulate a
// daemon restart without touching the machine's daemon.
type dockerProxy struct {
	path, upstream string
	mu             sync.Mutex
	ln             net.Listener
	conns          map[net.Conn]bool
}

func newDockerProxy(t *testing.T) *dockerProxy {
	upstream := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		upstream = strings.TrimPrefix(h, "unix://")
	} else if h != "" {
		t.Skipf("DOCKER_HOST=%s is not a unix socket", h)
	}
	dir, err := os.MkdirTemp("", "clocal-proxy-") // short path: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &dockerProxy{path: filepath.Join(dir, "docker.sock"), upstream: upstream, conns: map[net.Conn]bool{}}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *dockerProxy) host() string { return "unix://" + p.path }

func (p *dockerProxy) start(t *testing.T) {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			done := func() {
				c.Close()
				up.Close()
				p.mu.Lock()
				delete(p.conns, c)
				delete(p.conns, up)
				p.mu.Unlock()
			}
			go func() { _, _ = io.Copy(up, c); done() }()
			go func() { _, _ = io.Copy(c, up); done() }()
		}
	}()
}

// stop closes the listener (which removes the socket file) and every open connection.
func (p *dockerProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// TestWatchDaemonRestart: the daemon goes away for a few seconds under `up --watch`
// (a proxy socket closed with all its connections); clocal reports the outage, reconnects,
// and a source change afterwards is still rebuilt and replaced.
func TestWatchDaemonRestart(t *testing.T) {
	docker := testutil.RequireDocker(t)
	proxy := newDockerProxy(t)
	root := testutil.CopyWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	p := startClocal(t, []string{"DOCKER_HOST=" + proxy.host()}, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports", "--watch", "--json")
	p.waitOutput(`"kind":"watching"`, 8*time.Minute)
	before := projectContainers(t, docker, project)
	if len(before) != 1 {
		t.Fatalf("%d containers after up", len(before))
	}

	outage := time.Now()
	proxy.stop()
	p.waitOutput("Docker daemon unreachable", time.Minute)
	time.Sleep(4 * time.Second)
	proxy.start(t)
	p.waitOutput(`"kind":"reconnected"`, time.Minute)
	t.Logf("outage reported and recovered %s after the proxy went down", time.Since(outage).Round(time.Millisecond))

	src := filepath.Join(root, "apps", "kvstore", "after_restart.go")
	if err := os.WriteFile(src, []byte("package main\n\nconst afterRestart = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(`"kind":"ready"`, 5*time.Minute)
	after := projectContainers(t, docker, project)
	if len(after) != 1 || after[0].ID == before[0].ID || after[0].State != "running" {
		t.Errorf("after the rebuild: %v; want one new running container (old %s)", containerStates(t, docker, project), before[0].ID[:12])
	}
	if strings.Contains(p.out.String(), `"kind":"build-failed"`) {
		t.Errorf("a build failed:\n%s", p.out.String())
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	if r := p.wait(time.Minute); r.Code != ExitInterrupted {
		t.Errorf("watch exit %d after Ctrl-C, want 130", r.Code)
	}
}

// watchKvstore starts `up kvstore --watch --json` on a fresh test project of the example
// workspace and waits until it watches, with kvstore's one container up.
func watchKvstore(t *testing.T) (docker *client.Client, root, project string, p *proc) {
	t.Helper()
	docker = testutil.RequireDocker(t)
	root = repoRoot(t)
	project = testProject(t)
	cleanupStack(t, docker, root, project)
	p = startClocal(t, nil, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports", "--watch", "--json")
	p.waitOutput(`"kind":"watching"`, 8*time.Minute)
	if n := len(projectContainers(t, docker, project)); n != 1 {
		t.Fatalf("%d containers after up", n)
	}
	return docker, root, project, p
}

// TestWatchRestoresKilledContainer: a container killed from outside while watch runs is
// reported and brought back, and the service answers again.
func TestWatchRestoresKilledContainer(t *testing.T) {
	// Killed (the container stays, exited) and removed (docker rm -f: gone, the project
	// network stays): both are brought back, neither is taken for a down.
	for _, how := range []string{"killed", "removed"} {
		t.Run(how, func(t *testing.T) {
			docker, root, project, p := watchKvstore(t)
			ctrs := projectContainers(t, docker, project)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var err error
			if how == "killed" {
				err = docker.ContainerKill(ctx, ctrs[0].ID, "KILL")
			} else {
				err = docker.ContainerRemove(ctx, ctrs[0].ID, container.RemoveOptions{Force: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			p.waitOutput(`"service":"kvstore","kind":"restored"`, 2*time.Minute)
			waitFor(t, 2*time.Minute, "kvstore to answer again", func() bool {
				r := runCLI(t, ctx, "-w", root, "-p", project, "port", "kvstore", "7700")
				if r.Code != 0 {
					return false
				}
				c := &http.Client{Timeout: 2 * time.Second}
				resp, err := c.Get(fmt.Sprintf("http://%s/healthz", strings.TrimSpace(r.Out)))
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			})
			t.Logf("%s container restored and answering after %s", how, time.Since(killed).Round(time.Millisecond))
			running := 0
			for _, c := range projectContainers(t, docker, project) {
				if c.State == "running" {
					running++
				}
			}
			if running != 1 {
				t.Errorf("%d running kvstore containers, want 1: %v", running, containerStates(t, docker, project))
			}
			_ = p.cmd.Process.Signal(os.Interrupt)
			if r := p.wait(time.Minute); strings.Contains(r.Out, "taken-down") {
				t.Errorf("a %s container was taken for a down:\n%s", how, r.Out)
			}
		})
	}
}

// TestWatchEndsOnDown: a down from another terminal while a watch runs takes the stack
// down for good: the watch reports it and exits 0 instead of bringing the removed
// containers back (the supervisor that restores killed containers must not undo a down).
// Both clocal's own down (lock + state) and the compose CLI's (containers and network
// gone, clocal's state untouched) are recognised.
func TestWatchEndsOnDown(t *testing.T) {
	for _, by := range []string{"clocal", "compose"} {
		t.Run(by, func(t *testing.T) {
			compose := ""
			if by == "compose" {
				if compose = testutil.ComposeCLI(t); compose == "" {
					t.Skip("no Docker Compose CLI (CLOCAL_COMPOSE_CLI or docker-compose)")
				}
			}
			docker, root, project, p := watchKvstore(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if by == "clocal" {
				if r := runCLI(t, ctx, "-w", root, "-p", project, "down"); r.Code != 0 {
					t.Fatalf("down: %d %s", r.Code, r.Err)
				}
			} else if out, err := exec.CommandContext(ctx, compose, "-p", project, "down").CombinedOutput(); err != nil {
				t.Fatalf("compose down: %v\n%s", err, out)
			}
			res := p.wait(time.Minute)
			if res.Code != 0 || !strings.Contains(res.Out, `"kind":"taken-down"`) || !strings.Contains(res.Out, project+" was taken down") {
				t.Fatalf("watch after down: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Out, res.Err)
			}
			if strings.Contains(res.Out, `"kind":"restored"`) {
				t.Errorf("the watch brought containers back after down:\n%s", res.Out)
			}
			if ctrs := projectContainers(t, docker, project); len(ctrs) != 0 {
				t.Errorf("containers after down and the watch's exit: %v", containerStates(t, docker, project))
			}
			if _, err := os.Stat(filepath.Join(root, ".clocal", "projects", project, "state.json")); !os.IsNotExist(err) {
				t.Errorf("project state after down: %v", err)
			}
		})
	}
}
