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
	st, log := openOn(ctx, t, h, ws, project, false)
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

// TestRemoteHostPullsBase: a base image this machine does not have, in a registry only
// the Docker host reaches, is pulled by that host (nothing copied, nothing pulled here),
// the image is built there FROM it and served here; a second up pulls, copies and builds
// nothing, and checks the tag where the registry is reachable: on the host, with no line
// saying the registry cannot be checked; once the tag moves there, the host pulls it and
// the service is rebuilt on it.
func TestRemoteHostPullsBase(t *testing.T) {
	local := testutil.RequireDocker(t)
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	img := testutil.TestServerImage(t) // on this machine's daemon

	// The registry of the host's network, holding the base; the host itself lacks it.
	reg := &testutil.Registry{Host: h.StartRegistry(t)}
	base := reg.Ref(testutil.RandName("team/server:"))
	if _, err := build.CopyImage(ctx, local, h.Client, img); err != nil {
		t.Fatal(err)
	}
	if err := reg.PushImage(ctx, h.Client, img, base); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{base, img} {
		if err := testutil.Untag(ctx, h.Client, ref); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Client.ImageInspect(ctx, base); err == nil {
		t.Fatalf("the host still has %s", base)
	}
	port, err := testutil.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Load(testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml": "name: pb\n",
		"services/onbase/onbase.job": fmt.Sprintf(`job: <
  name: "onbase-1"
  image: "registry.example.com/team/onbase:1"
  run_on_host: "h-onbase"
  envs: < key: "port" value: "%[1]d" >
  envs: < key: "ADDR" value: ":%[1]d" >
  envs: < key: "NAME" value: "onbase" >
>
`, port),
		"services/onbase/Dockerfile": "FROM " + base + "\nLABEL built=here\n",
	}))
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("DOCKER_HOST", h.URL)
	t.Setenv("DOCKER_CONTEXT", "")
	project := testutil.RandName("clocaltest-pb-")
	st, log := openOn(ctx, t, h, ws, project, true)
	up := func() *stack.UpResult {
		t.Helper()
		res, err := st.Up(ctx, []string{"onbase"}, stack.UpOptions{Wait: true, WaitTimeout: 5 * time.Minute})
		if err != nil {
			t.Fatalf("up: %v\n%s", err, log.String())
		}
		return res
	}
	res := up()
	if len(res.Copied) > 0 || !res.Builds["onbase"].Built {
		t.Errorf("first up: copied %v, built %v (want nothing copied, onbase built)\n%s", res.Copied, res.Builds["onbase"].Built, log.String())
	}
	if _, err := h.Client.ImageInspect(ctx, base); err != nil {
		t.Errorf("the host did not pull %s: %v", base, err)
	}
	if _, err := local.ImageInspect(ctx, base); err == nil {
		t.Errorf("%s reached this machine's daemon", base)
	}
	eps, err := st.Endpoints(ctx, res.Plan)
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %v, %v", eps, err)
	}
	if body, err := get(eps[0].URL + "/"); err != nil || !strings.Contains(body, "hello from onbase") {
		t.Errorf("GET %s from this machine: %q, %v", eps[0].URL, body, err)
	}

	log.Reset()
	since := time.Now()
	res = up()
	until := time.Now()
	if len(res.Copied) > 0 || res.Builds["onbase"].Built {
		t.Errorf("second up: copied %v, built %v", res.Copied, res.Builds["onbase"].Built)
	}
	if evs := testutil.ImageEvents(t, h.Client, since, until); len(evs) > 0 {
		t.Errorf("second up changed images on the host: %v", evs)
	}
	if strings.Contains(log.String(), "cannot check its registry") {
		t.Errorf("second up checked %s from this machine, where its registry is out of reach:\n%s", base, log.String())
	}

	// The tag moves in that registry (the host keeps its copy of the old one): the next up
	// sees it from the host, which pulls the new base, and onbase is rebuilt on it.
	old, err := h.Client.ImageInspect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.BuildImage(ctx, h.Client, base, "FROM "+base+"\nLABEL moved=yes\n", nil); err != nil {
		t.Fatal(err)
	}
	if err := reg.PushImage(ctx, h.Client, base, base); err != nil {
		t.Fatal(err)
	}
	if err := h.Client.ImageTag(ctx, old.ID, base); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	res = up()
	if !res.Builds["onbase"].Built {
		t.Errorf("after the base's tag moved, onbase was not rebuilt\n%s", log.String())
	}
	now, err := h.Client.ImageInspect(ctx, base)
	if err != nil || now.ID == old.ID || now.Config.Labels["moved"] != "yes" {
		t.Errorf("the host did not pull the moved tag %s (%v)\n%s", base, err, log.String())
	}
}

// openOn opens the stack project of ws on the second host (DOCKER_HOST names it) with its
// output in the returned buffer; the test's end takes it down and checks that no ssh
// process is left.
func openOn(ctx context.Context, t *testing.T, h *testutil.RemoteHost, ws *workspace.Workspace, project string, ephemeral bool) (*stack.Stack, *bytes.Buffer) {
	t.Helper()
	log := &bytes.Buffer{}
	st, err := stack.Open(ctx, stack.Config{Workspace: ws, Name: project, Out: log, EphemeralPorts: ephemeral,
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
	return st, log
}
