package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func getJSON(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

func psIDs(t testing.TB, ctx context.Context, root, project string) map[string]string {
	t.Helper()
	r := mustRun(t, ctx, "-w", root, "-p", project, "ps", "--json", "-a")
	var rows []psJSON
	if err := json.Unmarshal([]byte(r.Out), &rows); err != nil {
		t.Fatalf("ps --json: %v\n%s", err, r.Out)
	}
	ids := map[string]string{}
	for _, row := range rows {
		ids[row.Service] = row.ID + " " + row.State
	}
	return ids
}

// TestStackLifecycle is the newcomer flow on the real daemon: up builds and starts the
// trimmed closure, every service answers on its printed URL, a second up builds and
// recreates nothing, the seed's verbs work, and down leaves nothing of the project.
func TestStackLifecycle(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	root := repoRoot(t)
	project := testProject(t)
	cleanupProject(t, project)
	cli := func(args ...string) result {
		return mustRun(t, ctx, append([]string{"-w", root, "-p", project}, args...)...)
	}

	r := cli("up", "repo-manager", "--ephemeral-ports", "--json", "--timeout", "3m")
	var up upJSON
	if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
		t.Fatalf("up --json: %v\n%s\n%s", err, r.Out, r.Err)
	}
	var names []string
	for n := range up.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "kvstore,markdown-renderer,repo-manager" {
		t.Fatalf("closure of repo-manager = %s (trimming broken?)", got)
	}
	for name, svc := range up.Services {
		if !strings.HasPrefix(svc.Address, "127.0.0.1:") {
			t.Errorf("%s published on %q, want 127.0.0.1 only", name, svc.Address)
		}
		code, body := getJSON(t, svc.URL+"/")
		if code != 200 || body["service"] != name {
			t.Errorf("GET %s/ = %d %v, want 200 with service %q", svc.URL, code, body, name)
		}
		if code, _ := getJSON(t, svc.URL+"/healthz"); code != 200 {
			t.Errorf("GET %s/healthz = %d", svc.URL, code)
		}
	}
	before := psIDs(t, ctx, root, project)

	// Nothing changed: nothing built, nothing recreated.
	r = cli("up", "repo-manager", "--ephemeral-ports", "--json")
	var again upJSON
	if err := json.Unmarshal([]byte(r.Out), &again); err != nil {
		t.Fatal(err)
	}
	for name, svc := range again.Services {
		if svc.Built {
			t.Errorf("second up rebuilt %s", name)
		}
	}
	if after := psIDs(t, ctx, root, project); !equalMaps(before, after) {
		t.Errorf("second up recreated containers:\nbefore %v\nafter  %v", before, after)
	}

	// The seed's verbs.
	if r := runCLI(t, ctx, "-w", root, "-p", project, "exec", "-T", "repo-manager", "/app/repo-manager", "-healthcheck"); r.Code != 0 {
		t.Errorf("exec healthcheck: %d %s", r.Code, r.Err)
	}
	if r := runCLI(t, ctx, "-w", root, "-p", project, "shell", "repo-manager"); r.Code != ExitFailure || !strings.Contains(r.Err, "no shell") {
		t.Errorf("shell on a FROM scratch image: exit %d, stderr %q; want a clear 'no shell' message", r.Code, r.Err)
	}
	// Every line is prefixed with its service, padded to the longest name; both services'
	// lines are there (colours: TestLogsPrefixesColoursAndJSON).
	r = cli("logs", "--tail", "20", "repo-manager", "kvstore")
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimRight(r.Out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "repo-manager | "):
			seen["repo-manager"]++
		case strings.HasPrefix(l, "kvstore      | "):
			seen["kvstore"]++
		default:
			t.Errorf("log line without its service prefix: %q", l)
		}
	}
	if seen["repo-manager"] == 0 || seen["kvstore"] == 0 {
		t.Errorf("logs of repo-manager and kvstore: %v lines\n%s", seen, r.Out)
	}
	r = cli("inspect", "repo-manager")
	var insp map[string]any
	if err := json.Unmarshal([]byte(r.Out), &insp); err != nil {
		t.Fatalf("inspect: %v\n%s", err, r.Out)
	}
	if ctrs, _ := insp["containers"].([]any); len(ctrs) != 1 {
		t.Errorf("inspect containers = %v", insp["containers"])
	}
	r = cli("port", "repo-manager", "8866")
	if strings.TrimSpace(r.Out) != up.Services["repo-manager"].Ports["8866"] {
		t.Errorf("port = %q, up said %q", r.Out, up.Services["repo-manager"].Ports["8866"])
	}
	r = cli("env")
	if !strings.Contains(r.Out, "export REPO_MANAGER_URL="+up.Services["repo-manager"].URL+"\n") {
		t.Errorf("env output:\n%s", r.Out)
	}
	// stop, start and restart act on the same containers (no recreate) and really stop and
	// start them: the start times move, a no-op would leave them; the other services are
	// not touched.
	states := func(args ...string) map[string]containerJSON {
		t.Helper()
		var a actionJSON
		if err := json.Unmarshal([]byte(cli(append(args, "--json")...).Out), &a); err != nil {
			t.Fatalf("%v --json: %v", args, err)
		}
		out := map[string]containerJSON{}
		for _, c := range a.Containers {
			out[c.Service] = c
		}
		return out
	}
	initial := states("start") // all services, already running: a no-op start
	stopped := states("stop", "markdown-renderer")
	if c := stopped["markdown-renderer"]; c.State != "exited" || c.ID != initial["markdown-renderer"].ID {
		t.Errorf("after stop: %+v (before: %+v)", c, initial["markdown-renderer"])
	}
	started := states("start", "markdown-renderer")
	if c := started["markdown-renderer"]; c.State != "running" || c.ID != initial["markdown-renderer"].ID || !c.StartedAt.After(initial["markdown-renderer"].StartedAt) {
		t.Errorf("after start: %+v (before the stop: %+v)", c, initial["markdown-renderer"])
	}
	restarted := states("restart", "kvstore")
	if c := restarted["kvstore"]; c.State != "running" || c.ID != initial["kvstore"].ID || !c.StartedAt.After(initial["kvstore"].StartedAt) {
		t.Errorf("after restart: %+v (before: %+v)", c, initial["kvstore"])
	}
	after := states("start")
	if c := after["repo-manager"]; c.ID != initial["repo-manager"].ID || !c.StartedAt.Equal(initial["repo-manager"].StartedAt) {
		t.Errorf("restarting kvstore and stopping markdown-renderer touched repo-manager: %+v, before %+v", c, initial["repo-manager"])
	}
	if c := after["markdown-renderer"]; !c.StartedAt.Equal(started["markdown-renderer"].StartedAt) {
		t.Errorf("a start of running services restarted markdown-renderer: %+v", c)
	}

	cli("down")
	ctrs, nets, vols := leftovers(t, docker, project)
	if len(ctrs)+len(nets) > 0 {
		t.Errorf("down left containers %v networks %v", ctrs, nets)
	}
	if len(vols) == 0 {
		t.Errorf("down without -v removed the named data volumes")
	}
	cli("down", "-v")
	if _, _, vols := leftovers(t, docker, project); len(vols) > 0 {
		t.Errorf("down -v left volumes %v", vols)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
