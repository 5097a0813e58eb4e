package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
	"github.com/clocal-dev/clocal/pkg/stacktest"
)

// skPrebuild makes sure the images of target exist (built once, like any up would), so the
// stack tests measure orchestration and not compilation.
func skPrebuild(t *testing.T, ctx context.Context, docker client.APIClient, root, target string) {
	t.Helper()
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := ws.Resolve([]string{target})
	if err != nil {
		t.Fatal(err)
	}
	st := stack.New(ws, "", nil, docker, io.Discard)
	if _, err := st.Build(ctx, sel.Services, false); err != nil {
		t.Fatalf("prebuild %s: %v", target, err)
	}
}

// skGet returns the decoded GET / body of a service ("" service on failure).
func skGet(url string) (int, map[string]any, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, nil
}

// skAssertNothingLeft fails when anything labelled with the project remains.
func skAssertNothingLeft(t *testing.T, docker *client.Client, project string) {
	t.Helper()
	ctrs, nets, vols := leftovers(t, docker, project)
	if len(ctrs)+len(nets)+len(vols) > 0 {
		t.Errorf("%s left containers %v networks %v volumes %v", project, ctrs, nets, vols)
	}
}

// TestIsolatedStacksInParallel: five stacks of the repo-manager profile started at once in
// one process, each with its own containers, network and volumes, every published port
// distinct, chosen by the daemon and answering; all torn down with nothing left.
func TestIsolatedStacksInParallel(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot(t)
	skPrebuild(t, ctx, docker, root, "repo-manager")

	const n = 5
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", testProject(t), i)
		cleanupProject(t, names[i])
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range names {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = runCLI(t, ctx, "-w", root, "-p", names[i], "up", "repo-manager", "--isolated", "--json", "--timeout", "8m")
		}(i)
	}
	wg.Wait()

	hostPorts := map[string]string{} // host:port -> project/service
	for i, r := range results {
		if r.Code != 0 {
			t.Errorf("up #%d (%s): exit %d\n%s", i, names[i], r.Code, r.Err)
			continue
		}
		var up upJSON
		if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
			t.Errorf("up #%d --json: %v\n%s", i, err, r.Out)
			continue
		}
		if up.Project != names[i] {
			t.Errorf("up -p %s --isolated reported project %q", names[i], up.Project)
		}
		if len(up.Services) != 3 {
			t.Errorf("%s: services %v, want the 3 of repo-manager's closure", names[i], up.Services)
		}
		for svc, s := range up.Services {
			if len(s.Ports) == 0 {
				t.Errorf("%s/%s publishes nothing", names[i], svc)
			}
			for cport, addr := range s.Ports {
				if !strings.HasPrefix(addr, "127.0.0.1:") {
					t.Errorf("%s/%s port %s published on %s, want 127.0.0.1", names[i], svc, cport, addr)
				}
				if addr == "127.0.0.1:"+cport {
					t.Errorf("%s/%s published on its fixed port %s: --isolated must let the daemon choose", names[i], svc, addr)
				}
				if prev, dup := hostPorts[addr]; dup {
					t.Errorf("%s published by both %s and %s/%s", addr, prev, names[i], svc)
				}
				hostPorts[addr] = names[i] + "/" + svc
			}
			code, body, err := skGet(s.URL + "/")
			if err != nil || code != 200 || body["service"] != svc {
				t.Errorf("GET %s/ (%s/%s) = %d %v %v", s.URL, names[i], svc, code, body, err)
			}
		}
		// Nothing global: every container name, network and volume belongs to the project.
		f := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+names[i]))
		ctrs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(ctrs) != 3 {
			t.Errorf("%s has %d containers, want 3", names[i], len(ctrs))
		}
		for _, c := range ctrs {
			if name := strings.TrimPrefix(c.Names[0], "/"); !strings.HasPrefix(name, names[i]+"-") {
				t.Errorf("container %s of %s has a pinned name (container_name?)", name, names[i])
			}
			for netName := range c.NetworkSettings.Networks {
				if !strings.HasPrefix(netName, names[i]+"_") {
					t.Errorf("container of %s joins network %s, which is not the project's", names[i], netName)
				}
			}
		}
		vols, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(vols.Volumes) == 0 {
			t.Errorf("%s: kvstore's data volume missing", names[i])
		}
		for _, v := range vols.Volumes {
			if !strings.HasPrefix(v.Name, names[i]+"_") {
				t.Errorf("volume %s of %s is not the project's own", v.Name, names[i])
			}
		}
	}
	if t.Failed() {
		return
	}
	if len(hostPorts) != n*3 {
		t.Errorf("%d distinct published ports, want %d", len(hostPorts), n*3)
	}

	// Tear all down at once; nothing of any project may remain.
	downs := make([]result, n)
	for i := range names {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			downs[i] = runCLI(t, ctx, "-w", root, "-p", names[i], "down", "-v", "-t", "2s")
		}(i)
	}
	wg.Wait()
	for i, r := range downs {
		if r.Code != 0 {
			t.Errorf("down %s: exit %d %s", names[i], r.Code, r.Err)
		}
		skAssertNothingLeft(t, docker, names[i])
	}
}

var exportLine = regexp.MustCompile(`^export ([A-Z0-9_]+)=(.*)$`)

// TestUpIsolatedJSONAndEnv: `up --isolated --json` without -p picks a unique project name
// and prints each service's published address once healthy; `env -p NAME` prints the same
// as export lines; `down -p NAME` removes containers and networks, -v the volumes too.
func TestUpIsolatedJSONAndEnv(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	root := repoRoot(t)
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, ctx, "-w", root, "up", "repo-manager", "--isolated", "--json", "--timeout", "8m")
	// The project name is only known from the output: clean up what any of it names.
	nameRE := regexp.MustCompile(regexp.QuoteMeta(ws.ProjectName()) + `-[0-9a-f]{6}\b`)
	for _, name := range skUniq(nameRE.FindAllString(r.Out+r.Err, -1)) {
		cleanupProject(t, name)
	}
	if r.Code != 0 {
		t.Fatalf("up --isolated --json: exit %d\n%s", r.Code, r.Err)
	}
	var up upJSON
	if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
		t.Fatalf("up --json: %v\n%s", err, r.Out)
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(ws.ProjectName()) + `-[0-9a-f]{6}$`).MatchString(up.Project) {
		t.Fatalf("isolated project name %q, want %s-<6 hex>", up.Project, ws.ProjectName())
	}
	if up.Project == ws.ProjectName() {
		t.Fatal("--isolated used the workspace's default project")
	}

	envOut := mustRun(t, ctx, "-w", root, "-p", up.Project, "env").Out
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(envOut), "\n") {
		m := exportLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("env printed a line that is not an export: %q", line)
		}
		vars[m[1]] = m[2]
	}
	if vars["CLOCAL_PROJECT"] != up.Project {
		t.Errorf("CLOCAL_PROJECT=%q, want %q", vars["CLOCAL_PROJECT"], up.Project)
	}
	for svc, s := range up.Services {
		p := stack.EnvName(svc)
		if vars[p+"_URL"] != s.URL || vars[p+"_ADDR"] != s.Address {
			t.Errorf("env %s_URL=%q %s_ADDR=%q; up --json said %q %q", p, vars[p+"_URL"], p, vars[p+"_ADDR"], s.URL, s.Address)
		}
		if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+$`).MatchString(s.URL) {
			t.Errorf("%s URL %q", svc, s.URL)
		}
		for cport, addr := range s.Ports {
			if got := vars[p+"_"+cport+"_ADDR"]; got != addr {
				t.Errorf("env %s_%s_ADDR=%q, up said %q", p, cport, got, addr)
			}
		}
		if code, body, err := skGet(vars[p+"_URL"] + "/"); err != nil || code != 200 || body["service"] != svc {
			t.Errorf("GET $%s_URL/ = %d %v %v", p, code, body, err)
		}
	}
	if _, ok := vars["REPO_MANAGER_URL"]; !ok {
		t.Errorf("no REPO_MANAGER_URL in\n%s", envOut)
	}

	mustRun(t, ctx, "-w", root, "-p", up.Project, "down", "-t", "2s")
	ctrs, nets, vols := leftovers(t, docker, up.Project)
	if len(ctrs)+len(nets) > 0 {
		t.Errorf("down left containers %v networks %v", ctrs, nets)
	}
	if len(vols) == 0 {
		t.Errorf("down without -v removed the named volumes")
	}
	mustRun(t, ctx, "-w", root, "-p", up.Project, "down", "-v", "-t", "2s")
	skAssertNothingLeft(t, docker, up.Project)
}

func skUniq(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// TestStacktestHelperProcess is not a test: TestPruneStaleAfterKilledTestRun runs the test
// binary again with CLOCAL_STACKTEST_HELPER=1, and this function then starts a stack with
// pkg/stacktest, prints its project name and blocks until it is SIGKILLed — a test run
// killed before its t.Cleanup could run.
func TestStacktestHelperProcess(t *testing.T) {
	if os.Getenv("CLOCAL_STACKTEST_HELPER") != "1" {
		t.Skip("helper process for TestPruneStaleAfterKilledTestRun")
	}
	s := stacktest.StartStack(t, os.Getenv("CLOCAL_STACKTEST_TARGET"), stacktest.WithWorkspace(repoRoot(t)), stacktest.WithTimeout(8*time.Minute))
	fmt.Printf("PROJECT=%s\n", s.Project)
	_ = os.Stdout.Sync()
	select {}
}

type killedRun struct {
	cmd     *exec.Cmd
	project string
}

// startKilledRun starts the helper process and returns once its stack is up.
func startKilledRun(t *testing.T, target string) (*killedRun, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStacktestHelperProcess$", "-test.timeout=20m")
	cmd.Env = append(os.Environ(), "CLOCAL_STACKTEST_HELPER=1", "CLOCAL_STACKTEST_TARGET="+target)
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	kr := &killedRun{cmd: cmd}
	t.Cleanup(func() {
		if kr.cmd.ProcessState == nil {
			_ = kr.cmd.Process.Kill()
			_ = kr.cmd.Wait()
		}
	})
	found := make(chan string, 1)
	var lines []string
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if p, ok := strings.CutPrefix(sc.Text(), "PROJECT="); ok {
				found <- p
			}
		}
		close(found)
	}()
	select {
	case p, ok := <-found:
		if !ok {
			_ = cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			return nil, fmt.Errorf("helper exited before its stack was up:\n%s\n%s", strings.Join(lines, "\n"), stderr.String())
		}
		kr.project = p
		cleanupProject(t, p)
		return kr, nil
	case <-time.After(10 * time.Minute):
		return nil, fmt.Errorf("helper's stack not up after 10 minutes:\n%s", stderr.String())
	}
}

// TestPruneStaleAfterKilledTestRun: a test binary that started stacks with pkg/stacktest
// is SIGKILLed, so its t.Cleanup never runs. Its stacks stay, labelled with its PID; one is
// removed by `clocal down -p NAME`, the other by `clocal prune --stale`, and nothing of
// either remains. prune leaves alone a stack whose owner (this test) is alive and compose
// projects clocal did not create.
func TestPruneStaleAfterKilledTestRun(t *testing.T) {
	docker := testutil.RequireDocker(t)
	busybox := testutil.EnsureBusybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := repoRoot(t)
	skPrebuild(t, ctx, docker, root, "kvstore")
	hostname, _ := os.Hostname()

	// Two killed runs (started concurrently) and one live stack owned by this process.
	var runs [2]*killedRun
	var errs [2]error
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			runs[i], errs[i] = startKilledRun(t, "kvstore")
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	live := stacktest.StartStack(t, "kvstore", stacktest.WithWorkspace(root), stacktest.WithTimeout(8*time.Minute))
	liveBefore := skContainerIDs(t, docker, live.Project)

	// Compose projects that are not clocal's: one with a stopped container, one with only
	// its network left. Old enough or not, prune must never touch them.
	foreign := testutil.RandName("clocaltest-foreign-")
	foreignNet := testutil.RandName("clocaltest-foreignnet-")
	skForeignProjects(t, ctx, docker, busybox, foreign, foreignNet)

	for _, kr := range runs {
		pid := kr.cmd.Process.Pid
		ctrs := skContainers(t, docker, kr.project)
		if len(ctrs) == 0 {
			t.Fatalf("helper's stack %s has no container", kr.project)
		}
		for _, c := range ctrs {
			if c.Labels[labels.OwnerPID] != strconv.Itoa(pid) || c.Labels[labels.OwnerHost] != hostname {
				t.Fatalf("container %v of a stacktest stack carries owner %q@%q, want %d@%s", c.Names, c.Labels[labels.OwnerPID], c.Labels[labels.OwnerHost], pid, hostname)
			}
		}
		if err := kr.cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
			t.Fatal(err)
		}
		_ = kr.cmd.Wait() // reap it, or the zombie would still answer signal 0
	}
	for _, kr := range runs {
		if ctrs := skContainers(t, docker, kr.project); len(ctrs) == 0 {
			t.Fatalf("the killed run's stack %s vanished by itself: nothing left to test", kr.project)
		}
	}

	// What prune would do, even with no grace at all for owner-less stopped stacks.
	dry := mustRun(t, ctx, "-w", root, "prune", "--stale", "--dry-run", "--grace", "0s")
	for _, kr := range runs {
		if !strings.Contains(dry.Out, "would remove "+kr.project+" (owner process "+strconv.Itoa(kr.cmd.Process.Pid)+" is gone)") {
			t.Errorf("prune --dry-run does not list the killed run's %s:\n%s", kr.project, dry.Out)
		}
	}
	for _, p := range []string{live.Project, foreign, foreignNet} {
		if strings.Contains(dry.Out, p) {
			t.Errorf("prune --dry-run would remove %s:\n%s", p, dry.Out)
		}
	}
	if len(skContainers(t, docker, runs[0].project)) == 0 {
		t.Fatal("--dry-run removed something")
	}

	// One leftover by name, the other (and only it, of ours) by prune.
	mustRun(t, ctx, "-w", root, "-p", runs[0].project, "down", "-v", "-t", "2s")
	skAssertNothingLeft(t, docker, runs[0].project)

	// The daemon is shared with every other test (and, on a developer's machine, with
	// whatever else runs there): another stack prune finds stale may fail to go (a network
	// something else still uses). That is prune's exit 1, but not this test's concern;
	// what this test's own stacks got is.
	r := runCLI(t, ctx, "-w", root, "prune", "--stale", "--json")
	var pr pruneJSON
	if err := json.Unmarshal([]byte(r.Out), &pr); err != nil {
		t.Fatalf("prune --stale --json: exit %d, %v\n%s\n%s", r.Code, err, r.Out, r.Err)
	}
	removed := false
	for _, oc := range pr.Result {
		switch oc.Project {
		case runs[1].project:
			removed = oc.Removed
		case live.Project, foreign, foreignNet:
			t.Errorf("prune --stale acted on %s: %+v", oc.Project, oc)
		default:
			if !oc.Removed && !oc.Busy {
				t.Logf("prune could not remove another test's leftover %s: %s", oc.Project, oc.Error)
			}
		}
	}
	if !removed {
		t.Errorf("prune --stale did not remove %s: exit %d\n%s\n%s", runs[1].project, r.Code, r.Out, r.Err)
	}
	if r.Code != 0 && r.Code != ExitFailure {
		t.Errorf("prune --stale: exit %d\n%s", r.Code, r.Err)
	}
	skAssertNothingLeft(t, docker, runs[1].project)

	if after := skContainerIDs(t, docker, live.Project); !equalMaps(liveBefore, after) {
		t.Errorf("prune touched the live stack %s: before %v after %v", live.Project, liveBefore, after)
	}
	for svc := range live.Services {
		if code, _, err := skGet(live.URL(svc) + "/healthz"); err != nil || code != 200 {
			t.Errorf("live stack's %s after prune: %d %v", svc, code, err)
		}
	}
	if len(skContainers(t, docker, foreign)) != 1 {
		t.Errorf("prune removed the container of the foreign project %s", foreign)
	}
	nl, err := docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+foreignNet))})
	if err != nil || len(nl) != 1 {
		t.Errorf("prune removed the network of the foreign project %s (%v)", foreignNet, err)
	}
}

func skContainers(t testing.TB, docker client.APIClient, project string) []container.Summary {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))
	ctrs, err := docker.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return ctrs
}

func skContainerIDs(t testing.TB, docker client.APIClient, project string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range skContainers(t, docker, project) {
		out[c.ID] = c.State
	}
	return out
}

// skForeignProjects creates two compose projects clocal did not make: project has one
// stopped container (compose labels, no clocal label), netProject only a network.
func skForeignProjects(t *testing.T, ctx context.Context, docker client.APIClient, image, project, netProject string) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		for _, c := range skContainers(t, docker, project) {
			_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
		for _, p := range []string{project, netProject} {
			nl, _ := docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+p))})
			for _, n := range nl {
				_ = docker.NetworkRemove(ctx, n.ID)
			}
		}
	})
	ctrLabels := map[string]string{labels.ComposeProject: project, labels.ComposeService: "app",
		"com.docker.compose.container-number": "1", labels.ComposeOneoff: "False"}
	c, err := docker.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"true"}, Labels: ctrLabels}, nil, nil, nil, project+"-app-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := docker.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{project, netProject} {
		if _, err := docker.NetworkCreate(ctx, p+"_default", network.CreateOptions{Labels: map[string]string{
			labels.ComposeProject: p, labels.ComposeNetwork: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	// wait for the container to exit: a stopped foreign project is what a naive prune takes
	waitCh, errCh := docker.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case <-waitCh:
	case err := <-errCh:
		t.Fatal(err)
	}
}
