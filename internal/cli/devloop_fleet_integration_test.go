package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// The dev loop with many services, on the real daemon: generated fleet workspaces
// (testutil.WriteFleet) whose builds copy one prebuilt server binary, so that a shared edit
// rebuilds every service cheaply. Each service serves {"marker": "<lib/marker.txt>/v1"}.

// fleetWS writes a fleet workspace into a temp dir, with the fleet's server built once for
// it, and registers the teardown of project and of the images built from it.
func fleetWS(t *testing.T, docker client.APIClient, project string, o testutil.FleetOptions) string {
	t.Helper()
	ws := t.TempDir()
	o.ServerBin = filepath.Join(ws, "server-bin") // outside every hashed tree
	if _, err := testutil.WriteFleet(ws, o); err != nil {
		t.Fatal(err)
	}
	if err := testutil.FleetServerBinary(ws, o.ServerBin); err != nil {
		t.Fatal(err)
	}
	dlCleanup(t, docker, ws, project)
	return ws
}

// fleetMarker is the marker a fleet service serves now ("" and an error if it does not).
func fleetMarker(docker client.APIClient, project, service string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return dlMarker(ctx, docker, project, service, 8080)
}

// waitMarkers waits until every service serves want; it returns those that never did.
func waitMarkers(docker client.APIClient, project string, services []string, want string, timeout time.Duration) map[string]string {
	deadline := time.Now().Add(timeout)
	left := map[string]string{}
	for _, s := range services {
		left[s] = "not asked"
	}
	for len(left) > 0 && time.Now().Before(deadline) {
		for s := range left {
			m, err := fleetMarker(docker, project, s)
			if err == nil && m == want {
				delete(left, s)
			} else if err != nil {
				left[s] = err.Error()
			} else {
				left[s] = m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return left
}

// terminal are the events that end a service's cycle.
var terminal = []string{"ready", "unchanged", "build-failed", "unhealthy", "rolled-back", "blocked", "restarted"}

// waitCycles waits until each service had a cycle-ending event at index >= from and returns
// the last such event per service.
func (r *dlRun) waitCycles(from int, services []string, timeout time.Duration) map[string]dlEvent {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]dlEvent{}
		for _, e := range dlEvents(r.t, r)[from:] {
			if slices.Contains(terminal, e.Kind) {
				got[e.Service] = e
			}
			if e.Kind == "error" {
				r.t.Fatalf("error event %s\n%s", e, r.dump())
			}
		}
		done := true
		for _, s := range services {
			if _, ok := got[s]; !ok {
				done = false
			}
		}
		if done {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("not every service finished its cycle within %s (done: %d of %d)\n%s", timeout, len(got), len(services), r.dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWatchEditRightAfterHealthy: a shared-source edit saved the moment the service first
// answers, while `up --watch` still waits for health, prints its URLs and starts its
// watcher, is built and served: the loop compares what runs with the files once the
// watcher is ready. (The test does not wait for the watcher: that is the point.)
func TestWatchEditRightAfterHealthy(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{Services: 1})
	r := dlStart(t, "-w", ws, "-p", project, "up", "all", "--ephemeral-ports", "--watch", "--json", "--timeout", "3m")
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if m, err := fleetMarker(docker, project, "svc-00"); err == nil && m == "m1/v1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("svc-00 never answered\n%s", r.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(ws, "lib", "marker.txt"), []byte("m2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	watching := slices.ContainsFunc(dlEvents(t, r), func(e dlEvent) bool { return e.Kind == "watching" })
	t.Logf("edit saved as svc-00 first answered; the watcher was ready then: %v", watching)
	if left := waitMarkers(docker, project, []string{"svc-00"}, "m2/v1", 3*time.Minute); len(left) > 0 {
		t.Fatalf("the edit was never served: %v\n%s", left, r.dump())
	}
}

// TestWatchTwentyAtOnce: a shared edit rebuilds and replaces 20 services at once; all of
// them end ready and serve the edit, none is rolled back, although each one's health
// depends on its dependency's (a tree of 20) and the root takes seconds to start.
func TestWatchTwentyAtOnce(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{
		Services: 20, Fanout: 3, Retries: 5, ServiceRetries: map[string]int{"svc-00": 60},
		Env:        map[string]string{"HEALTH_UPSTREAM": "1"},
		ServiceEnv: map[string]map[string]string{"svc-00": {"STARTUP_DELAY": "3s"}},
	})
	r := dlStart(t, "-w", ws, "-p", project, "up", "all", "--ephemeral-ports", "--watch", "--json", "--timeout", "5m")
	r.waitEvent(0, 8*time.Minute, "watching", dlKind("", "watching"))
	var services []string
	for i := range 20 {
		services = append(services, testutil.FleetName(i))
	}
	n := r.eventCount()
	if err := os.WriteFile(filepath.Join(ws, "lib", "marker.txt"), []byte("m2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ends := r.waitCycles(n, services, 8*time.Minute)
	// Each service is replaced once (ready). When the loop's start-up check (it compares
	// what runs with the files) was still going as the edit landed, it and the watcher
	// both see the edit: one cycle replaces, the other finds the image current
	// (unchanged) — converged either way, and nothing is built twice.
	readied := map[string]bool{}
	for _, e := range dlEvents(t, r)[n:] {
		if e.Kind == "unhealthy" || e.Kind == "rolled-back" || e.Kind == "blocked" {
			t.Errorf("%s", e)
		}
		if e.Kind == "ready" {
			readied[e.Service] = true
		}
	}
	for _, s := range services {
		if e := ends[s]; e.Kind != "ready" && e.Kind != "unchanged" || !readied[s] {
			t.Errorf("%s ended with %s (replaced: %v), want it replaced and ready", s, e, readied[s])
		}
	}
	if left := waitMarkers(docker, project, services, "m2/v1", time.Minute); len(left) > 0 {
		t.Errorf("services not serving the edit: %v", left)
	}
	if t.Failed() {
		for _, e := range dlEvents(t, r)[n:] {
			t.Logf("  %s %s", e.Time.Format("15:04:05.000"), e)
		}
	}
}

// TestWatchDependentNotRolledBack: a dependency and its dependent are rebuilt by the same
// edit; the dependency takes 5 s to start and the dependent's health check asks the
// dependency's. The dependent is replaced once the dependency is ready and is not rolled
// back for the dependency's restart (with 2 retries of 1 s it would be, judged meanwhile).
func TestWatchDependentNotRolledBack(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{
		Services: 2, Fanout: 1, Retries: 2, ServiceRetries: map[string]int{"svc-00": 60},
		ServiceEnv: map[string]map[string]string{"svc-00": {"STARTUP_DELAY": "5s"}, "svc-01": {"HEALTH_UPSTREAM": "1"}},
	})
	r := dlStart(t, "-w", ws, "-p", project, "up", "all", "--ephemeral-ports", "--watch", "--json", "--timeout", "3m")
	r.waitEvent(0, 5*time.Minute, "watching", dlKind("", "watching"))
	n := r.eventCount()
	if err := os.WriteFile(filepath.Join(ws, "lib", "marker.txt"), []byte("m2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ends := r.waitCycles(n, []string{"svc-00", "svc-01"}, 5*time.Minute)
	if ends["svc-00"].Kind != "ready" || ends["svc-01"].Kind != "ready" {
		t.Errorf("cycles ended with %s and %s, want ready and ready\n%s", ends["svc-00"], ends["svc-01"], r.dump())
	}
	for _, e := range dlEvents(t, r)[n:] {
		if e.Service == "svc-01" && (e.Kind == "unhealthy" || e.Kind == "rolled-back") {
			t.Errorf("the dependent was judged for its dependency's restart: %s", e)
		}
	}
	if left := waitMarkers(docker, project, []string{"svc-00", "svc-01"}, "m2/v1", time.Minute); len(left) > 0 {
		t.Errorf("not serving the edit: %v", left)
	}
}

// TestWatchConfigAndBuildOutputs: an edit of a file the service mounts (configs:) restarts
// it without a rebuild, and the new content is served; a source edit rebuilds it once
// although its build.sh writes gradle's build/ and .gradle/ into the source tree every time
// (with new content): no build loop.
func TestWatchConfigAndBuildOutputs(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{
		Services: 1, Configs: []string{"svc-00"},
		ExtraBuild: `mkdir -p "$CLOCAL_SOURCE/build/classes" "$CLOCAL_SOURCE/.gradle"
date +%s%N > "$CLOCAL_SOURCE/build/classes/App.class"
date +%s%N > "$CLOCAL_SOURCE/.gradle/buildOutputCleanup.lock"
`,
	})
	if err := os.WriteFile(filepath.Join(ws, "apps", "svc-00", "build.gradle"), []byte("apply plugin: 'java'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := dlStart(t, "-w", ws, "-p", project, "up", "all", "--ephemeral-ports", "--watch", "--json", "--timeout", "3m")
	r.waitEvent(0, 5*time.Minute, "watching", dlKind("", "watching"))
	before := dlContainers(t, docker, project)["svc-00"]

	// 1. The config, saved the way editors do (a new file renamed over the old one).
	n := r.eventCount()
	cfg := filepath.Join(ws, "services", "svc-00", "config", "app.json")
	if err := os.WriteFile(cfg+".new", []byte(`{"greeting": "bonjour"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cfg+".new", cfg); err != nil {
		t.Fatal(err)
	}
	_, ev := r.waitEvent(n, 3*time.Minute, "svc-00 restarted", dlKind("svc-00", terminal...))
	if ev.Kind != "restarted" {
		t.Fatalf("after the config edit: %s, want restarted\n%s", ev, r.dump())
	}
	after := dlContainers(t, docker, project)["svc-00"]
	if after.ID != before.ID || after.Image != before.Image {
		t.Errorf("the config edit recreated or rebuilt svc-00: %.12s %s -> %.12s %s", before.ID, before.Image, after.ID, after.Image)
	}
	deadline := time.Now().Add(time.Minute)
	var body string
	for time.Now().Before(deadline) && !strings.Contains(body, "bonjour") {
		body = fleetGet(docker, project, "svc-00", "/config")
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(body, "bonjour") {
		t.Errorf("GET /config after the restart = %q, want the edited config", body)
	}

	// 2. A source edit: one rebuild, whatever its build writes in the source tree.
	n = r.eventCount()
	main := filepath.Join(ws, "apps", "svc-00", "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, append(src, []byte("\n// edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ev = r.waitEvent(n, 3*time.Minute, "svc-00 rebuilt", dlKind("svc-00", terminal...))
	if ev.Kind != "ready" {
		t.Fatalf("after the source edit: %s, want ready\n%s", ev, r.dump())
	}
	time.Sleep(3 * time.Second) // several debounces: a build loop would have started by now
	changes := 0
	for _, e := range dlEvents(t, r)[n:] {
		if e.Kind == "change" {
			changes++
		}
	}
	if changes != 1 {
		t.Errorf("%d change events after one source edit, want 1 (build outputs must not trigger builds)\n%s", changes, r.dump())
	}
	if _, err := os.Stat(filepath.Join(ws, "apps", "svc-00", "build", "classes", "App.class")); err != nil {
		t.Errorf("the build did not write its gradle outputs (the check above proves nothing): %v", err)
	}
}

// fleetGet GETs path of a fleet service ("" on any error).
func fleetGet(docker client.APIClient, project, service, path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, addr, err := dlAddr(ctx, docker, project, service, 8080)
	if err != nil {
		return ""
	}
	resp, err := dlHTTP.Get(fmt.Sprintf("http://%s%s", addr, path))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}
