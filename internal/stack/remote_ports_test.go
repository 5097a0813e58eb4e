package stack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestRemotePortTaken: on a second Docker host over ssh, "is this production port taken"
// is asked where it matters: a port another project's container publishes there, or a
// process of that machine listens on, is published on a port the host's daemon picks
// (instead of failing the up with "port is already allocated"); so is a port free there
// whose forward cannot have the same number here. A port free on both sides keeps its
// production number, on the host and here, and stays so once the stack runs (its own
// container there and its own forward here do not count as taken). Every address answers
// here.
func TestRemotePortTaken(t *testing.T) {
	local := testutil.RequireDocker(t)
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	img := testutil.TestServerImage(t) // on this machine's daemon
	t.Setenv("DOCKER_HOST", h.URL)
	t.Setenv("DOCKER_CONTEXT", "")

	// Four production ports, free on this machine when chosen (ephemeral: never a fixed
	// port); the host's network namespace is its own, so they are free there too.
	var ports [4]int
	var hold []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hold = append(hold, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range hold[:] {
		_ = l.Close()
	}
	names := []string{"published", "listened", "busyhere", "free"}
	files := map[string]string{"clocal.yaml": "name: rp\n"}
	for i, n := range names {
		files["services/"+n+"/"+n+".job"] = fmt.Sprintf(`job: <
  name: "%[1]s-1"
  image: "%[2]s"
  run_on_host: "h-%[1]s"
  envs: < key: "port" value: "%[3]d" >
  envs: < key: "ADDR" value: ":%[3]d" >
  envs: < key: "NAME" value: "%[1]s" >
>
`, n, img, ports[i])
	}
	ws, err := workspace.Load(testutil.WriteFiles(t, t.TempDir(), files))
	if err != nil {
		t.Fatal(err)
	}

	// published: another project's container publishes it on the host.
	if _, err := build.CopyImage(ctx, local, h.Client, img); err != nil {
		t.Fatal(err)
	}
	port0 := nat.Port(fmt.Sprintf("%d/tcp", ports[0]))
	other, err := h.Client.ContainerCreate(ctx,
		&container.Config{Image: img, Env: []string{fmt.Sprintf("ADDR=:%d", ports[0])}, ExposedPorts: nat.PortSet{port0: {}}},
		&container.HostConfig{PortBindings: nat.PortMap{port0: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(ports[0])}}}},
		nil, nil, testutil.RandName("clocaltest-other-"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Client.ContainerStart(ctx, other.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	// listened: a process of the host listens on it (no container publishes it).
	h.Listen(t, fmt.Sprintf("127.0.0.1:%d", ports[1]))
	// busyhere: free there, taken on this machine.
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	project := testutil.RandName("clocaltest-rp-")
	var log bytes.Buffer
	st, err := stack.Open(ctx, stack.Config{Workspace: ws, Name: project, Out: &log,
		DialOptions: engine.Options{Out: io.Discard, Err: io.Discard, ProgressMode: "quiet"}})
	if err != nil {
		t.Fatal(err)
	}
	docker := st.Docker
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		timeout := 5 * time.Second
		if err := st.Engine.Down(ctx, project, engine.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &timeout}); err != nil {
			t.Errorf("down %s: %v", project, err)
		}
		st.RemoveState()
		_ = st.Engine.Close()
		_ = docker.Close()
		if ps := h.SSHProcesses(); len(ps) > 0 {
			t.Errorf("ssh processes left: %v", ps)
		}
	})
	if !st.Remote() {
		t.Fatalf("the stack does not run on %s: %+v", h.URL, st.Hosts)
	}

	published := func() map[string]string {
		t.Helper()
		sel, err := ws.Resolve(names)
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := st.Preview(ctx, sel, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range names {
			svc, ok := p.Services[n]
			if !ok || len(svc.Ports) != 1 {
				t.Fatalf("service %s: %+v", n, svc.Ports)
			}
			out[n] = svc.Ports[0].Published
		}
		return out
	}
	want := map[string]string{"published": "", "listened": "", "busyhere": "", "free": strconv.Itoa(ports[3])}
	if got := published(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("published ports before up = %v, want %v (\"\": a port the host's daemon picks)", got, want)
	}

	res, err := st.Up(ctx, names, stack.UpOptions{Wait: true, WaitTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, log.String())
	}
	eps, err := st.Endpoints(ctx, res.Plan)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range eps {
		seen[e.Service] = true
		if e.Service == "free" && e.HostPort != ports[3] {
			t.Errorf("free: address here %s, want the production port %d", e.URL, ports[3])
		}
		if e.Service == "busyhere" && e.HostPort == ports[2] {
			t.Errorf("busyhere: address here %s is the port this test holds", e.URL)
		}
		body, err := get(e.URL + "/")
		if err != nil || !strings.Contains(body, "hello from "+e.Service) {
			t.Errorf("GET %s (%s) from this machine: %q, %v", e.URL, e.Service, body, err)
		}
	}
	if len(seen) != len(names) {
		t.Errorf("endpoints %v: want one per service", eps)
	}
	// Once running, the stack's own container there and own forward here hold the free
	// port: it is not taken for the stack itself; and every running service keeps the port
	// the host's daemon picked for it (a re-rendered model never moves a running address).
	running := published()
	for n, p := range running {
		if n == "free" && p != want["free"] || n != "free" && (p == "" || p == strconv.Itoa(ports[2])) {
			t.Errorf("published ports with the stack running = %v: want free on %s, the others on the ports the host's daemon picked", running, want["free"])
			break
		}
	}
	if again := published(); fmt.Sprint(again) != fmt.Sprint(running) {
		t.Errorf("published ports moved between two renders: %v, then %v", running, again)
	}
}

func get(url string) (string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
