package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestFleetUpAll brings up a generated production-shaped fleet with plain `clocal up all`:
// 16 apps on 5 hosts, ports reused across hosts, sidecars reaching their partner over
// localhost, replicas listening on another port, job files per host and per cluster under
// jobs_root, a production .proto with fields clocal does not map, every image production's
// own (no service folder builds one). Every service's health check calls each dependency
// address exactly as production wrote it (HOST:PORT, JOB:PORT, http://HOST:PORT/path,
// grpc://HOST:PORT, host + port keys, localhost:PORT), so `up` succeeding means every
// address reached a listening job. Then each published address answers, and port/env show
// the real (daemon-chosen where the production port was taken) addresses.
func TestFleetUpAll(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()

	// one image, tagged once per app: each app's image repository is its own name
	prefix := testutil.RandName("clocaltest-fleet-")
	base := prefix + "/server:1"
	if err := testutil.BuildGoImage(ctx, docker, filepath.Join(testutil.RepoRoot(), "internal", "fleet", "server"), base,
		"FROM scratch\nCOPY server /server\nUSER 65534\nENTRYPOINT [\"/server\"]\n"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, base) })
	ports := fleetPorts()
	f := fleet.Generate(fleet.Options{Apps: 16, Hosts: 5, Seed: 1, Sidecars: 0.3, PortVariants: 0.3,
		Folders: 1, Healthcheck: []string{"CMD", "/server", "-healthcheck"}, HealthInterval: "2s",
		// production ports shared across hosts, from a random base so that two runs at once
		// (other engineers, CI) rarely meet; a taken one goes to a free port anyway
		Ports: ports,
		// a per-host agent on every host, reached over localhost by replicated apps among
		// others (each replica must reach its own host's); hosts written short in
		// run_on_host and full in values, and vice versa
		Agents: 0.5, AgentPort: ports[0] + 3, FQDN: true,
		Image: func(app string) string { return prefix + "/" + app + ":1" }})
	for _, a := range f.Apps {
		if err := docker.ImageTag(ctx, base, a.Image); err != nil {
			t.Fatal(err)
		}
		img := a.Image
		t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, img) })
	}

	// the fleet has what the test is about
	hosts, shared, sidecars, variants := map[string]bool{}, map[int]int{}, 0, 0
	for _, a := range f.Apps {
		ports := map[int]bool{}
		for _, j := range a.Jobs {
			hosts[j.Host] = true
			ports[j.Port] = true
		}
		for p := range ports {
			shared[p]++
		}
		if a.Sidecar != nil {
			sidecars++
		}
		if len(ports) > 1 {
			variants++
		}
	}
	reused := 0
	for _, n := range shared {
		if n > 1 {
			reused++
		}
	}
	if len(f.Apps) < 15 || len(hosts) > 6 || reused == 0 || sidecars == 0 || variants == 0 {
		t.Fatalf("fleet: %d apps on %d hosts, %d reused ports, %d sidecars, %d apps with a replica on another port", len(f.Apps), len(hosts), reused, sidecars, variants)
	}

	dir := t.TempDir()
	if err := f.Write(dir); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	project := testProject(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if r := runCLI(t, ctx, "-w", dir, "-p", project, "down", "-v", "-t", "2s"); r.Code != 0 {
			t.Logf("cleanup: %s", r.Err)
		}
	})

	mustRun(t, ctx, "-w", dir, "validate")
	r := runCLI(t, ctx, "-w", dir, "-p", project, "up", "all", "--timeout", "8m")
	if r.Code != 0 {
		ps := runCLI(t, ctx, "-w", dir, "-p", project, "ps")
		t.Fatalf("clocal up all: exit %d\n%s\n%s\nps:\n%s", r.Code, r.Out, lastLines(r.Err, 40), ps.Out)
	}

	// every service with a listening port: `port` gives an address that answers, distinct
	// from every other one, and the up summary and env show the same
	env := mustRun(t, ctx, "-w", dir, "-p", project, "env").Out
	seen, addrOf := map[string]string{}, map[string]string{}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		if len(s.Ports) == 0 {
			continue
		}
		addr := strings.TrimSpace(mustRun(t, ctx, "-w", dir, "-p", project, "port", name, fmt.Sprint(s.Ports[0])).Out)
		if prev, dup := seen[addr]; dup {
			t.Errorf("%s and %s are both published on %s", prev, name, addr)
		}
		seen[addr], addrOf[name] = name, addr
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Errorf("%s (port %d) at %s: %v", name, s.Ports[0], addr, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s at %s: %s", name, addr, resp.Status)
		}
		if !strings.Contains(r.Err+r.Out, "http://"+addr) {
			t.Errorf("the up summary does not show %s at http://%s", name, addr)
		}
		if !strings.Contains(env, "_ADDR="+addr+"\n") {
			t.Errorf("env does not show %s at %s", name, addr)
		}
	}
	if len(seen) < 15 {
		t.Errorf("only %d services publish a port", len(seen))
	}
	ps := mustRun(t, ctx, "-w", dir, "-p", project, "ps").Out
	if strings.Count(ps, "healthy") < len(ws.Services) || !strings.Contains(ps, "router-") {
		t.Errorf("ps:\n%s", ps)
	}
	agents := ws.Lookup("statsd-agent")
	if len(agents) < 2 {
		t.Errorf("the per-host agent runs as %v: the fleet proves nothing about per-host namespaces", agents)
	}

	// an up of another target, recreating its closure, moves no running service's address
	// (published host ports are kept, rehomed ones included)
	// (the target whose closure holds the most services published on another port than
	// their production one: those a daemon-chosen port would move)
	rehomed := func(name string) bool {
		s := ws.Services[name]
		return len(s.Ports) > 0 && addrOf[name] != "" && !strings.HasSuffix(addrOf[name], fmt.Sprintf(":%d", s.Ports[0]))
	}
	var target string
	var closure []string
	best := -1
	for _, name := range ws.ServiceNames() {
		sel, err := ws.Resolve([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range sel.Services {
			if rehomed(c) {
				n++
			}
		}
		if n > best || n == best && len(sel.Services) > len(closure) {
			target, closure, best = name, sel.Services, n
		}
	}
	if best == 0 {
		t.Errorf("no service published on another port than its production one: the recreate proves little")
	}
	if r := runCLI(t, ctx, "-w", dir, "-p", project, "up", target, "--force-recreate", "--timeout", "8m"); r.Code != 0 {
		t.Fatalf("clocal up %s --force-recreate: exit %d\n%s", target, r.Code, lastLines(r.Err, 40))
	}
	moved := 0
	for _, name := range closure {
		if len(ws.Services[name].Ports) == 0 {
			continue
		}
		addr := strings.TrimSpace(mustRun(t, ctx, "-w", dir, "-p", project, "port", name, fmt.Sprint(ws.Services[name].Ports[0])).Out)
		if addr != addrOf[name] {
			t.Errorf("%s moved from %s to %s on up %s --force-recreate", name, addrOf[name], addr, target)
			moved++
		}
	}
	t.Logf("up %s --force-recreate: %d services (%d on another port than production's), %d moved", target, len(closure), best, moved)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fleetPorts are 8 production ports from a random base in 20000-38999.
func fleetPorts() []int {
	var b [2]byte
	_, _ = rand.Read(b[:])
	base := 20000 + (int(b[0])<<8|int(b[1]))%19000
	out := make([]int, 8)
	for i := range out {
		out[i] = base + i*7
	}
	return out
}
