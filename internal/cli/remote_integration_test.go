package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// The stack on a second Docker host over ssh (issue 15's done-when), with the clocal binary
// as a developer runs it and DOCKER_HOST=ssh://<host>: the host is a dockerd in its own
// mount, network and PID namespaces (private /tmp: the workspace copy does not exist there;
// its published ports are not on this machine's loopback) that starts with no image,
// reached through `sshd -i` by an ssh ProxyCommand.
//
// The workspace adds to the example a service whose build.sh runs
// `docker run -v "$(pwd)/.src:/out" <image only this machine has>` and whose Dockerfile is
// FROM another image only this machine has, with a config file.

const laptopJob = `job: <
  name: "laptop-svc-1"
  image: "registry.example.com/team/laptop-svc:1"
  run_on_host: "lap-1"
  envs: < key: "port" value: "8080" >
>
`

// remoteWorkspace copies the example workspace and adds laptop-svc; tool and base are the
// images only this machine has.
func remoteWorkspace(t *testing.T, tool, base string) string {
	t.Helper()
	ws := testutil.CopyWorkspace(t)
	testutil.WriteFiles(t, ws, map[string]string{
		"services/laptop-svc/laptop-svc.job": laptopJob,
		"services/laptop-svc/service.yaml": `source: ../../apps/laptop-svc
build: {outputs: [.src/]}
healthcheck: {test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/index.html"], interval: 1s, timeout: 5s, retries: 60}
configs: [{source: config/greeting.txt, target: /www/greeting.txt}]
`,
		"services/laptop-svc/build.sh": fmt.Sprintf(`#!/bin/sh
# The article's build: a container of this machine's daemon writes the build output.
set -eu
mkdir -p .src
echo run >> .src/runs
docker run --rm -v "$(pwd)/.src:/out" -v "$CLOCAL_SOURCE:/in:ro" %s cp /in/index.html /out/index.html
`, tool),
		"services/laptop-svc/Dockerfile": fmt.Sprintf(`FROM %s
COPY .src/index.html /www/index.html
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`, base),
		"services/laptop-svc/config/greeting.txt": "greetings from a config file\n",
		"apps/laptop-svc/index.html":              "laptop v1\n",
	})
	return ws
}

// upJSONOut is `up --json` as read back.
type upJSONOut struct {
	Project  string `json:"project"`
	Services map[string]struct {
		URL   string `json:"url"`
		Image string `json:"image"`
		Built bool   `json:"built"`
	} `json:"services"`
	DockerHost    string   `json:"docker_host"`
	DockerContext string   `json:"docker_context"`
	Copied        []string `json:"copied"`
}

func parseUp(t *testing.T, r result) upJSONOut {
	t.Helper()
	var u upJSONOut
	if err := json.Unmarshal([]byte(r.Out), &u); err != nil {
		t.Fatalf("up --json: %v\nstdout:\n%s\nstderr:\n%s", err, r.Out, r.Err)
	}
	return u
}

// httpGet returns the body of a GET, within a bound.
func remoteGet(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), err
}

// projectOn counts what a daemon holds of a project.
func projectOn(t *testing.T, docker *client.Client, project string) (ctrs, nets, vols int) {
	t.Helper()
	c, n, v := leftovers(t, docker, project)
	return len(c), len(n), len(v)
}

func TestRemoteDockerHost(t *testing.T) {
	local := testutil.RequireDocker(t)
	busybox := testutil.EnsureBusybox(t)
	h := testutil.StartRemoteHost(t)
	ctx := context.Background()

	// Two images only this machine has: the tool build.sh runs and the Dockerfile's base.
	tool, base := testutil.RandName("clocaltest/laptop-tool:"), testutil.RandName("clocaltest/laptop-base:")
	for _, ref := range []string{tool, base} {
		if err := local.ImageTag(ctx, busybox, ref); err != nil {
			t.Fatal(err)
		}
		ref := ref
		t.Cleanup(func() {
			_, _ = local.ImageRemove(context.Background(), ref, image.RemoveOptions{})
		})
	}
	ws := remoteWorkspace(t, tool, base)
	project := testProject(t)
	env := h.Env(os.Environ())
	clocal := func(timeout time.Duration, args ...string) result {
		t.Helper()
		return runClocal(t, timeout, env, append([]string{"-w", ws, "-p", project}, args...)...)
	}
	must := func(timeout time.Duration, args ...string) result {
		t.Helper()
		r := clocal(timeout, args...)
		if r.Code != 0 {
			t.Fatalf("clocal %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Out, r.Err)
		}
		return r
	}
	t.Cleanup(func() {
		// whatever happened: nothing of the project on either daemon, no forward left
		_ = clocal(2*time.Minute, "down", "-v")
		cleanupProject(t, project)
	})

	// 1. up: builds here, runs there, every address answers here.
	up := parseUp(t, must(10*time.Minute, "up", "repo-manager", "laptop-svc", "--ephemeral-ports", "--json"))
	if up.DockerHost != h.URL {
		t.Errorf("up --json docker_host = %q, want %q", up.DockerHost, h.URL)
	}
	for _, svc := range []string{"repo-manager", "kvstore", "markdown-renderer", "laptop-svc"} {
		s, ok := up.Services[svc]
		if !ok || s.URL == "" || !s.Built {
			t.Fatalf("up --json: %s = %+v, want a URL and a build", svc, s)
		}
	}
	if !contains(up.Copied, base) || contains(up.Copied, tool) {
		t.Errorf("copied %v: want the Dockerfile's base %s (and not build.sh's tool, which runs here)", up.Copied, base)
	}
	checks := map[string]string{
		up.Services["repo-manager"].URL + "/healthz":      `"ok"`,
		up.Services["kvstore"].URL + "/":                  "kvstore",
		up.Services["markdown-renderer"].URL + "/healthz": `"ok"`,
		up.Services["laptop-svc"].URL + "/index.html":     "laptop v1",
		up.Services["laptop-svc"].URL + "/greeting.txt":   "greetings from a config file",
	}
	for url, want := range checks {
		body, err := remoteGet(url)
		if err != nil || !strings.Contains(body, want) {
			t.Errorf("GET %s from this machine: %q, %v (want %q)", url, body, err, want)
		}
	}
	if c, n, v := projectOn(t, local, project); c+n+v > 0 {
		t.Errorf("this machine's daemon holds %d containers, %d networks, %d volumes of the project", c, n, v)
	}
	if c, _, _ := projectOn(t, h.Client, project); c != 4 {
		t.Errorf("the remote host runs %d containers of the project, want 4", c)
	}
	if _, err := h.Client.ImageInspect(ctx, tool); err == nil {
		t.Errorf("build.sh's tool image %s reached the remote host: build.sh ran against it", tool)
	}
	runs := func() int {
		data, _ := os.ReadFile(filepath.Join(ws, "services", "laptop-svc", ".src", "runs"))
		return strings.Count(string(data), "run")
	}
	if runs() != 1 {
		t.Fatalf("build.sh ran %d times, want 1", runs())
	}

	// 2. A second up transfers nothing and builds nothing: no image event on the host.
	since := time.Now()
	again := parseUp(t, must(5*time.Minute, "up", "repo-manager", "laptop-svc", "--ephemeral-ports", "--json"))
	until := time.Now()
	for svc, s := range again.Services {
		if s.Built {
			t.Errorf("second up built %s", svc)
		}
		if s.URL != up.Services[svc].URL {
			t.Errorf("second up: %s moved from %s to %s", svc, up.Services[svc].URL, s.URL)
		}
	}
	if len(again.Copied) > 0 || runs() != 1 {
		t.Errorf("second up copied %v, build.sh runs %d", again.Copied, runs())
	}
	if evs := testutil.ImageEvents(t, h.Client, since, until); len(evs) > 0 {
		t.Errorf("second up changed images on the remote host: %v", evs)
	}

	// 3. The dev loop as a developer starts it, `up --watch`: an edit right after the watch
	// starts is built here and served there, at the same address on this machine (the new
	// container has a new port on the host).
	w := startClocal(t, env, "-w", ws, "-p", project, "up", "repo-manager", "laptop-svc", "--ephemeral-ports", "--watch", "--json")
	w.waitOutput(`"watching"`, 2*time.Minute)
	if err := os.WriteFile(filepath.Join(ws, "apps", "laptop-svc", "index.html"), []byte("laptop v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		body, _ := remoteGet(up.Services["laptop-svc"].URL + "/index.html")
		if strings.Contains(body, "laptop v2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edit was not served at %s\nwatch stderr:\n%s\nstdout:\n%s", up.Services["laptop-svc"].URL, w.err.String(), w.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if runs() != 2 {
		t.Errorf("build.sh ran %d times after one edit, want 2", runs())
	}
	// Ctrl-C (SIGINT to the real process) ends the watch and its forwards; the stack keeps
	// running there.
	ctrlC := func(w *proc, what, url string) {
		t.Helper()
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		if r := w.wait(time.Minute); r.Code != ExitInterrupted {
			t.Errorf("%s after Ctrl-C: exit %d\n%s", what, r.Code, r.Err)
		}
		if ps := h.SSHProcesses(); len(ps) > 0 {
			t.Errorf("ssh processes left after %s ended: %v", what, ps)
		}
		// Without the forwards nothing answers here: the ports are published on the host only.
		if body, err := remoteGet(url); err == nil {
			t.Errorf("%s answers after the forwards of %s ended (%q): the port is not the remote host's", url, what, body)
		}
	}
	ctrlC(w, "up --watch", up.Services["laptop-svc"].URL+"/index.html")
	// `clocal watch` on the running stack brings the forwards back and ends them on Ctrl-C
	// too.
	w = startClocal(t, env, "-w", ws, "-p", project, "watch", "--json")
	w.waitOutput(`"watching"`, 2*time.Minute)
	watched := "http://" + strings.TrimSpace(must(time.Minute, "port", "laptop-svc").Out) + "/index.html"
	if body, err := remoteGet(watched); err != nil || !strings.Contains(body, "laptop v2") {
		t.Errorf("under clocal watch, GET %s: %q, %v", watched, body, err)
	}
	ctrlC(w, "watch", watched)

	// 4. port, env, ps and the status page show this machine's addresses again. The port
	// laptop-svc has on the host is held here, so this machine's end of its forward has
	// another number: an address that is the host's binding would show.
	onHost := remotePort(t, h.Client, project, "laptop-svc")
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", onHost)); err == nil {
		defer l.Close()
	}
	addr := strings.TrimSpace(must(time.Minute, "port", "laptop-svc").Out)
	if body, err := remoteGet("http://" + addr + "/index.html"); err != nil || !strings.Contains(body, "laptop v2") || addr == fmt.Sprintf("127.0.0.1:%d", onHost) {
		t.Errorf("clocal port laptop-svc = %s (port on the host %d): GET %q, %v", addr, onHost, body, err)
	}
	if out := must(time.Minute, "env").Out; !strings.Contains(out, "LAPTOP_SVC_ADDR="+addr) {
		t.Errorf("clocal env lacks LAPTOP_SVC_ADDR=%s:\n%s", addr, out)
	}
	if out := must(time.Minute, "ps").Out; !strings.Contains(out, addr+"->8080/tcp") {
		t.Errorf("clocal ps does not show %s->8080/tcp:\n%s", addr, out)
	}

	// The status page shows the same address on this machine.
	page := startClocal(t, env, "-w", ws, "-p", project, "ui")
	page.waitOutput("token=", time.Minute)
	pageURL := strings.TrimSpace(strings.SplitN(page.out.String(), "\n", 2)[0])
	base, token, _ := strings.Cut(pageURL, "/?token=")
	var state string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/state", nil)
		req.Header.Set("X-Clocal-Token", token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if state = string(b); strings.Contains(state, "laptop-svc") && strings.Contains(state, `"addresses"`) {
				break
			}
		}
	}
	if !strings.Contains(state, `"http://`+addr) {
		t.Errorf("status page state lacks http://%s:\n%s", addr, state)
	}
	_ = page.cmd.Process.Signal(syscall.SIGINT)
	page.wait(time.Minute)

	// A docker context naming the host is honoured like DOCKER_HOST.
	cfg := t.TempDir()
	if out, err := exec.Command("docker", "--config", cfg, "context", "create", "devbox", "--docker", "host="+h.URL).CombinedOutput(); err != nil {
		t.Fatalf("docker context create: %v\n%s", err, out)
	}
	ctxEnv := append(h.Env(os.Environ()), "DOCKER_HOST=", "DOCKER_CONFIG="+cfg, "DOCKER_CONTEXT=devbox")
	if r := runClocal(t, time.Minute, ctxEnv, "-w", ws, "-p", project, "port", "laptop-svc"); r.Code != 0 || strings.TrimSpace(r.Out) != addr {
		t.Errorf("port with DOCKER_CONTEXT=devbox: exit %d, %q (want %s)\n%s", r.Code, r.Out, addr, r.Err)
	}
	// ... and so is the current context of `docker context use devbox`, for up as for ps
	// (an up with nothing to do: it builds and copies nothing, the address stays).
	if out, err := exec.Command("docker", "--config", cfg, "context", "use", "devbox").CombinedOutput(); err != nil {
		t.Fatalf("docker context use: %v\n%s", err, out)
	}
	useEnv := append(h.Env(os.Environ()), "DOCKER_HOST=", "DOCKER_CONFIG="+cfg, "DOCKER_CONTEXT=")
	if r := runClocal(t, 5*time.Minute, useEnv, "-w", ws, "-p", project, "up", "laptop-svc", "--ephemeral-ports", "--json"); r.Code != 0 {
		t.Errorf("up with the current context devbox: exit %d\n%s", r.Code, r.Err)
	} else if u := parseUp(t, r); u.DockerHost != h.URL || u.DockerContext != "devbox" || u.Services["laptop-svc"].Built || len(u.Copied) > 0 || !strings.Contains(u.Services["laptop-svc"].URL, addr) {
		t.Errorf("up with the current context devbox: %+v (want docker_host %s, docker_context devbox, nothing built or copied, %s)", u, h.URL, addr)
	}
	if r := runClocal(t, time.Minute, useEnv, "-w", ws, "-p", project, "ps"); r.Code != 0 || !strings.Contains(r.Out, addr+"->8080/tcp") {
		t.Errorf("ps with the current context devbox: exit %d\n%s\n%s", r.Code, r.Out, r.Err)
	}

	// exec streams over the same ssh connection: output and exit status come back.
	if r := clocal(time.Minute, "exec", "-T", "laptop-svc", "sh", "-c", "cat /www/greeting.txt; exit 3"); r.Code != 3 || !strings.Contains(r.Out+r.Err, "greetings from a config file") {
		t.Errorf("exec over ssh: exit %d, stdout %q, stderr %q", r.Code, r.Out, r.Err)
	}

	// 5. down -v leaves the remote host clean and no ssh process.
	must(2*time.Minute, "down", "-v")
	if c, n, v := projectOn(t, h.Client, project); c+n+v > 0 {
		t.Errorf("after down -v the remote host holds %d containers, %d networks, %d volumes of the project", c, n, v)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Errorf("ssh processes left after down: %v", ps)
	}

	// Ctrl-C in the middle of an up over ssh (its build.sh running here): exit 130, nothing
	// started there, no ssh process left.
	started := filepath.Join(ws, "services", "laptop-svc", "started")
	testutil.WriteFiles(t, ws, map[string]string{"services/laptop-svc/build.sh": "#!/bin/sh\ntouch " + started + "\nexec sleep 120\n"})
	mid := startClocal(t, env, "-w", ws, "-p", project, "up", "repo-manager", "laptop-svc", "--ephemeral-ports")
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("build.sh did not start\n%s", mid.err.String())
		}
	}
	_ = mid.cmd.Process.Signal(syscall.SIGINT)
	if r := mid.wait(time.Minute); r.Code != ExitInterrupted {
		t.Errorf("up after Ctrl-C mid-build: exit %d\n%s", r.Code, r.Err)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Errorf("ssh processes left after an interrupted up: %v", ps)
	}
	if c, _, _ := projectOn(t, h.Client, project); c > 0 {
		t.Errorf("an up interrupted in its build left %d containers on the host", c)
	}

	// 6. A workspace mount cannot work there: refused in one line, nothing started.
	testutil.WriteFiles(t, ws, map[string]string{"services/laptop-svc/service.yaml": "source: ../../apps/laptop-svc\nbuild: {outputs: [.src/]}\nmounts: {/data: ./.data/laptop}\n"})
	r := clocal(time.Minute, "up", "laptop-svc")
	if r.Code != ExitBadInput || !strings.Contains(r.Err, "mounts./data") || !strings.Contains(r.Err, h.URL) {
		t.Errorf("up with a mount on a remote host: exit %d\n%s", r.Code, r.Err)
	}
	if c, _, _ := projectOn(t, h.Client, project); c > 0 {
		t.Errorf("a refused up started %d containers", c)
	}

	// 7. The host vanishes: ps says so in one line naming it, exit 1.
	h.Vanish()
	r = clocal(time.Minute, "ps")
	lines := strings.Split(strings.TrimSpace(r.Err), "\n")
	if r.Code != ExitFailure || len(lines) != 1 || !strings.Contains(lines[0], h.URL) {
		t.Errorf("ps with the host gone: exit %d, stderr:\n%s", r.Code, r.Err)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Errorf("ssh processes left after a failed ps: %v", ps)
	}
}

// remotePort is the host port a service of project publishes on a daemon.
func remotePort(t *testing.T, docker client.APIClient, project, service string) int {
	t.Helper()
	list, err := docker.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labels.ComposeProject+"="+project), filters.Arg("label", labels.ComposeService+"="+service))})
	if err != nil || len(list) != 1 {
		t.Fatalf("containers of %s/%s: %d, %v", project, service, len(list), err)
	}
	for _, p := range list[0].Ports {
		if p.PublicPort != 0 {
			return int(p.PublicPort)
		}
	}
	t.Fatalf("%s/%s publishes no port", project, service)
	return 0
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
