package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// The dev loop on the real daemon, driven in-process through the CLI exactly as a developer
// runs it (`clocal watch --json`, `clocal up --watch --down --json`), on a copy of the example
// workspace. Events are read from the command's stdout as JSON lines while it runs.

// dlEvent is a devloop.Event as read back from --json (durations are float milliseconds).
type dlEvent struct {
	Time    time.Time     `json:"time"`
	Service string        `json:"service"`
	Kind    string        `json:"kind"`
	Paths   int           `json:"paths"`
	Image   string        `json:"image"`
	Error   string        `json:"error"`
	Diff    *devloop.Diff `json:"diff"`
	Total   float64       `json:"total_ms"`
}

func (e dlEvent) String() string {
	s := e.Kind
	if e.Service != "" {
		s = e.Service + " " + s
	}
	if e.Paths > 0 {
		s += fmt.Sprintf(" paths=%d", e.Paths)
	}
	if e.Image != "" {
		s += " " + e.Image
	}
	if e.Diff != nil {
		s += fmt.Sprintf(" diff=%+v", *e.Diff)
	}
	if e.Error != "" {
		s += " error=" + strings.ReplaceAll(e.Error, "\n", " | ")
	}
	return s
}

// dlJSONLog is the stdout of a running command: it collects what is written and decodes the
// JSON values (the indented `up --json` object, then one event per line).
type dlJSONLog struct{ testutil.SyncBuffer }

func (l *dlJSONLog) values() ([]json.RawMessage, error) {
	data := []byte(l.String())
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []json.RawMessage
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil // a value being written is read on the next call
		}
		if err != nil {
			return out, fmt.Errorf("stdout is not a stream of JSON values: %w\n%s", err, data)
		}
		out = append(out, v)
	}
}

// events returns the dev loop events (JSON values with a "kind").
func (l *dlJSONLog) events() ([]dlEvent, error) {
	vals, err := l.values()
	var evs []dlEvent
	for _, v := range vals {
		var e dlEvent
		if json.Unmarshal(v, &e) == nil && e.Kind != "" {
			evs = append(evs, e)
		}
	}
	return evs, err
}

// dlRun is a clocal command running in the background with a context the test cancels
// (Ctrl-C).
type dlRun struct {
	t      *testing.T
	args   []string
	out    *dlJSONLog
	errOut *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan int // exit code
	code   int
	exited bool
}

func dlStart(t *testing.T, args ...string) *dlRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &dlRun{t: t, args: args, out: &dlJSONLog{}, errOut: &testutil.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	no := false
	ios := &IOStreams{In: strings.NewReader(""), Out: r.out, ErrOut: r.errOut, TTY: &no, NoColor: true}
	go func() {
		root := NewRootCmd(NewFactory(ios))
		root.SetArgs(args)
		err := root.ExecuteContext(ctx)
		if ctx.Err() != nil && err != nil {
			err = context.Canceled
		}
		PrintError(r.errOut, err)
		r.done <- ExitCode(err)
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels the command (Ctrl-C) and waits for it to return; it returns the exit code.
func (r *dlRun) stop() int {
	r.t.Helper()
	if r.exited {
		return r.code
	}
	r.cancel()
	select {
	case r.code = <-r.done:
		r.exited = true
	case <-time.After(3 * time.Minute):
		r.t.Fatalf("clocal %s did not return within 3m of Ctrl-C\nstderr:\n%s", strings.Join(r.args, " "), r.errOut.String())
	}
	return r.code
}

func (r *dlRun) dump() string {
	evs, _ := r.out.events()
	var b strings.Builder
	b.WriteString("events:\n")
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s\n", e.Time.Format("15:04:05.000"), e)
	}
	errOut := r.errOut.String()
	if len(errOut) > 6000 {
		errOut = "..." + errOut[len(errOut)-6000:]
	}
	b.WriteString("stderr (tail):\n" + errOut)
	return b.String()
}

// waitEvent waits for the first event at index >= from matching match and returns its index.
// It fails at once on an unexpected "error" event, when stdout is not JSON, or when the
// command exits.
func (r *dlRun) waitEvent(from int, timeout time.Duration, what string, match func(dlEvent) bool) (int, dlEvent) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs, err := r.out.events()
		if err != nil {
			r.t.Fatal(err)
		}
		for i := from; i < len(evs); i++ {
			if match(evs[i]) {
				return i, evs[i]
			}
			if evs[i].Kind == "error" {
				r.t.Fatalf("waiting for %s: error event %s\n%s", what, evs[i], r.dump())
			}
		}
		if !r.exited {
			select {
			case r.code = <-r.done:
				r.exited = true
			default:
			}
		}
		if r.exited {
			// One last look: the event may have been written just before exiting.
			evs, _ := r.out.events()
			for i := from; i < len(evs); i++ {
				if match(evs[i]) {
					return i, evs[i]
				}
			}
			r.t.Fatalf("waiting for %s: clocal %s exited with %d\n%s", what, strings.Join(r.args, " "), r.code, r.dump())
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %s within %s\n%s", what, timeout, r.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *dlRun) eventCount() int {
	evs, err := r.out.events()
	if err != nil {
		r.t.Fatal(err)
	}
	return len(evs)
}

func dlKind(service string, kinds ...string) func(dlEvent) bool {
	return func(e dlEvent) bool {
		if service != "" && e.Service != service {
			return false
		}
		for _, k := range kinds {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

// dlContainers returns service → container of a compose project (running or not).
func dlContainers(t testing.TB, docker client.APIClient, project string) map[string]container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range cl {
		out[c.Labels[labels.ComposeService]] = c
	}
	return out
}

// dlAddr resolves the current host address of a service's published port. With
// --ephemeral-ports a replaced container gets a new port, so callers resolve it per request.
func dlAddr(ctx context.Context, docker client.APIClient, project, service string, port uint16) (id, addr string, err error) {
	cl, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labels.ComposeProject+"="+project),
		filters.Arg("label", labels.ComposeService+"="+service),
		filters.Arg("status", "running"))})
	if err != nil {
		return "", "", err
	}
	for _, c := range cl {
		for _, p := range c.Ports {
			if p.PrivatePort == port && p.PublicPort != 0 && !strings.Contains(p.IP, ":") {
				return c.ID, fmt.Sprintf("127.0.0.1:%d", p.PublicPort), nil
			}
		}
	}
	return "", "", fmt.Errorf("%s of %s: no running container publishing %d (%d containers)", service, project, port, len(cl))
}

var dlHTTP = &http.Client{Timeout: 3 * time.Second}

// marker GETs / of a service and returns the build marker it reports.
func dlMarker(ctx context.Context, docker client.APIClient, project, service string, port uint16) (string, error) {
	_, addr, err := dlAddr(ctx, docker, project, service, port)
	if err != nil {
		return "", err
	}
	resp, err := dlHTTP.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Marker string `json:"marker"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("GET %s/: %d: %w", addr, resp.StatusCode, err)
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s/: %d", addr, resp.StatusCode)
	}
	return body.Marker, nil
}

// dlWaitMarker polls GET / until it reports want.
func dlWaitMarker(t *testing.T, docker client.APIClient, project, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		last, lastErr = dlMarker(ctx, docker, project, "repo-manager", 8866)
		cancel()
		if lastErr == nil && last == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET / of repo-manager never returned marker %q within %s (last %q, %v)", want, timeout, last, lastErr)
}

func dlWriteMarker(t *testing.T, ws, body string) {
	t.Helper()
	src := "package main\n\n// BuildMarker shows up in GET / so a rebuild is visible.\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(ws, "apps", "repo-manager", "marker.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dlCleanup tears the project down and removes the images built from the workspace copy
// (labelled dev.clocal.workspace=<copy>: nobody else uses them; shared images of the
// repository's own workspace are never touched).
func dlCleanup(t *testing.T, docker client.APIClient, ws, project string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if r := runCLI(t, ctx, "-w", ws, "-p", project, "down", "-v", "-t", "2s"); r.Code != 0 {
			t.Logf("cleanup down %s: %s", project, r.Err)
		}
		imgs, err := docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Workspace+"="+ws))})
		if err != nil {
			t.Logf("cleanup images: %v", err)
			return
		}
		for _, im := range imgs {
			if _, err := docker.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
				t.Logf("cleanup image %v: %v", im.RepoTags, err)
			}
		}
	})
}

// TestWatchDevLoop: edit → rebuilt and replaced; a broken build leaves the old container
// serving without a single failed request; the fix recovers; the other services are never
// touched; a burst of 200 new files is one rebuild; a service file edit re-derives the
// project and recreates only that service; Ctrl-C leaves the stack running.
func TestWatchDevLoop(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ws := testutil.CopyWorkspace(t)
	project := testProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	mustRun(t, ctx, "-w", ws, "-p", project, "up", "repo-manager", "--ephemeral-ports", "--json", "--timeout", "3m")
	initial := dlContainers(t, docker, project)
	for _, s := range []string{"kvstore", "markdown-renderer", "repo-manager"} {
		if initial[s].State != "running" {
			t.Fatalf("after up: %s is %q; containers %v", s, initial[s].State, initial)
		}
	}
	if m, err := dlMarker(ctx, docker, project, "repo-manager", 8866); err != nil || m != "repo-manager-v1" {
		t.Fatalf("before any edit GET / = %q, %v; want repo-manager-v1", m, err)
	}

	// `clocal watch` with a target on a stack started with --ephemeral-ports.
	w := dlStart(t, "-w", ws, "-p", project, "watch", "repo-manager", "--json", "--timeout", "3m")
	dlCleanup(t, docker, ws, project)
	w.waitEvent(0, 4*time.Minute, "watching", dlKind("", "watching"))
	if after := dlContainers(t, docker, project); !dlSameIDs(initial, after, "kvstore", "markdown-renderer", "repo-manager") {
		t.Fatalf("starting watch recreated containers (port mode of the running stack lost?):\nbefore %v\nafter  %v", dlIDs(initial), dlIDs(after))
	}

	// 1. An edit is rebuilt with build.sh and served by a new container.
	m2 := "m2-" + project
	n := w.eventCount()
	dlWriteMarker(t, ws, fmt.Sprintf("const BuildMarker = %q", m2))
	_, ev := w.waitEvent(n, 4*time.Minute, "repo-manager ready after the marker edit", dlKind("repo-manager", "ready", "build-failed", "unhealthy", "rolled-back"))
	if ev.Kind != "ready" {
		t.Fatalf("after the marker edit: %s\n%s", ev, w.dump())
	}
	dlRunsImage(t, w, docker, project, ev.Image)
	dlWaitMarker(t, docker, project, m2, time.Minute)
	servingID, _, err := dlAddr(ctx, docker, project, "repo-manager", 8866)
	if err != nil {
		t.Fatal(err)
	}
	if servingID == initial["repo-manager"].ID {
		t.Errorf("repo-manager serves the new marker from the old container %s", servingID[:12])
	}

	// 2. A syntax error: build-failed, and the old container answers every request meanwhile.
	type probe struct {
		marker string
		err    error
		at     time.Time
	}
	var (
		probes  []probe
		probeMu sync.Mutex
	)
	stopProbe := make(chan struct{})
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := dlMarker(pctx, docker, project, "repo-manager", 8866)
			pcancel()
			probeMu.Lock()
			probes = append(probes, probe{m, err, time.Now()})
			probeMu.Unlock()
			select {
			case <-stopProbe:
				return
			case <-tick.C:
			}
		}
	}()
	n = w.eventCount()
	dlWriteMarker(t, ws, `const BuildMarker = "broken" +`)
	_, ev = w.waitEvent(n, 4*time.Minute, "build-failed after the syntax error", dlKind("repo-manager", "build-failed", "ready", "unhealthy"))
	if ev.Kind != "build-failed" {
		t.Fatalf("after a syntax error: %s (want build-failed)\n%s", ev, w.dump())
	}
	if !strings.Contains(ev.Error, "marker.go") {
		t.Errorf("build-failed event does not show the compiler error naming marker.go: %q", ev.Error)
	}
	time.Sleep(time.Second) // keep probing a little after the failure was reported
	close(stopProbe)
	<-probeDone
	probeMu.Lock()
	if len(probes) < 5 {
		t.Errorf("only %d probes during the failed build: the check proves nothing", len(probes))
	}
	for _, p := range probes {
		if p.err != nil || p.marker != m2 {
			t.Errorf("during the failed build at %s: GET / = %q, %v; want %q from the old container", p.at.Format("15:04:05.000"), p.marker, p.err, m2)
		}
	}
	t.Logf("%d requests during the failed build, all answered with %s", len(probes), m2)
	probeMu.Unlock()
	if id, _, err := dlAddr(ctx, docker, project, "repo-manager", 8866); err != nil || id != servingID {
		t.Errorf("after the failed build repo-manager container = %.12s, %v; want the old one %.12s kept", id, err, servingID)
	}
	for _, e := range dlEvents(t, w)[n:] {
		if e.Service == "repo-manager" && (e.Kind == "ready" || e.Kind == "unhealthy" || e.Kind == "rolled-back") {
			t.Errorf("a failed build replaced or touched the container: %s", e)
		}
	}

	// 3. Fixing it recovers.
	m3 := "m3-" + project
	n = w.eventCount()
	dlWriteMarker(t, ws, fmt.Sprintf("const BuildMarker = %q", m3))
	_, ev = w.waitEvent(n, 4*time.Minute, "repo-manager ready after the fix", dlKind("repo-manager", "ready", "build-failed", "unhealthy", "rolled-back"))
	if ev.Kind != "ready" {
		t.Fatalf("after the fix: %s\n%s", ev, w.dump())
	}
	dlRunsImage(t, w, docker, project, ev.Image)
	dlWaitMarker(t, docker, project, m3, time.Minute)

	// 4. A burst of 200 new files is exactly one rebuild.
	n = w.eventCount()
	dir := filepath.Join(ws, "apps", "repo-manager")
	for i := range 200 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("burst-%03d.txt", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	end, ev := w.waitEvent(n, 4*time.Minute, "the rebuild after the burst", dlKind("repo-manager", "ready", "unchanged", "build-failed", "unhealthy", "rolled-back"))
	if ev.Kind != "ready" && ev.Kind != "unchanged" {
		t.Fatalf("after the burst: %s\n%s", ev, w.dump())
	}
	// A second change set (a split burst) would start right after this cycle: wait well past
	// the debounce and the watcher's max wait before counting.
	time.Sleep(4 * time.Second)
	var changes, terminals int
	for _, e := range dlEvents(t, w)[n:] {
		if e.Service != "repo-manager" {
			if e.Kind == "change" || e.Kind == "ready" {
				t.Errorf("the burst in repo-manager's source rebuilt another service: %s", e)
			}
			continue
		}
		switch e.Kind {
		case "change":
			changes++
			if e.Paths < 200 {
				t.Errorf("burst change set holds %d paths, want the 200 new files", e.Paths)
			}
		case "ready", "unchanged", "build-failed", "unhealthy":
			terminals++
		}
	}
	if changes != 1 || terminals != 1 {
		t.Errorf("a burst of 200 files gave %d change and %d build results for repo-manager; want exactly 1 and 1\n%s", changes, terminals, w.dump())
	}
	_ = end

	// The other services were never touched.
	afterBuilds := dlContainers(t, docker, project)
	if !dlSameIDs(initial, afterBuilds, "kvstore", "markdown-renderer") {
		t.Errorf("rebuilding repo-manager touched other services:\nbefore %v\nafter  %v", dlIDs(initial), dlIDs(afterBuilds))
	}

	// 5. A service file edit re-derives the project and recreates only that service.
	sf := filepath.Join(ws, "services", "repo-manager", "service.yaml")
	data, err := os.ReadFile(sf)
	if err != nil {
		t.Fatal(err)
	}
	n = w.eventCount()
	if err := os.WriteFile(sf, append(data, []byte("env: {CLOCAL_RELOAD_TEST: \""+project+"\"}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ev = w.waitEvent(n, 4*time.Minute, "reloaded after the service file edit", dlKind("", "reloaded"))
	if ev.Diff == nil || !reflect.DeepEqual(ev.Diff.Changed, []string{"repo-manager"}) || len(ev.Diff.Added)+len(ev.Diff.Removed) > 0 {
		t.Errorf("reload diff = %s; want changed [repo-manager] only", ev)
	}
	afterReload := dlContainers(t, docker, project)
	if !dlSameIDs(initial, afterReload, "kvstore", "markdown-renderer") {
		t.Errorf("the reload touched other services:\nbefore %v\nafter  %v", dlIDs(initial), dlIDs(afterReload))
	}
	rm := afterReload["repo-manager"]
	if rm.ID == afterBuilds["repo-manager"].ID {
		t.Errorf("the reload did not recreate repo-manager (%.12s)", rm.ID)
	}
	insp, err := docker.ContainerInspect(ctx, rm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !dlContains(insp.Config.Env, "CLOCAL_RELOAD_TEST="+project) {
		t.Errorf("recreated repo-manager lacks the new env var: %v", insp.Config.Env)
	}
	dlWaitMarker(t, docker, project, m3, time.Minute)

	// 6. Ctrl-C stops watching and leaves the stack running.
	if code := w.stop(); code != ExitInterrupted {
		t.Errorf("watch after Ctrl-C exited %d, want %d\n%s", code, ExitInterrupted, w.dump())
	}
	final := dlContainers(t, docker, project)
	if !dlSameIDs(afterReload, final, "kvstore", "markdown-renderer", "repo-manager") {
		t.Errorf("Ctrl-C changed containers:\nbefore %v\nafter  %v", dlIDs(afterReload), dlIDs(final))
	}
	for _, s := range []string{"kvstore", "markdown-renderer", "repo-manager"} {
		if final[s].State != "running" {
			t.Errorf("after Ctrl-C %s is %q, want running", s, final[s].State)
		}
	}
	dlWaitMarker(t, docker, project, m3, 30*time.Second)
	if evs := dlEvents(t, w); len(evs) > 0 {
		t.Logf("%d events; last: %s", len(evs), evs[len(evs)-1])
	}
}

// TestUpWatchDown: `up --watch --down --json` prints the up result then events on stdout
// (machine-readable), and Ctrl-C tears the stack down.
func TestUpWatchDown(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ws := testutil.CopyWorkspace(t)
	project := testProject(t)

	r := dlStart(t, "-w", ws, "-p", project, "up", "kvstore", "--ephemeral-ports", "--watch", "--down", "--json", "--timeout", "3m")
	dlCleanup(t, docker, ws, project)
	r.waitEvent(0, 4*time.Minute, "watching", dlKind("", "watching"))
	vals, err := r.out.values()
	if err != nil {
		t.Fatal(err)
	}
	var up upJSON
	if err := json.Unmarshal(vals[0], &up); err != nil || up.Project != project || up.Services["kvstore"].URL == "" {
		t.Errorf("first JSON value on stdout = %s (%v); want the up result for %s", vals[0], err, project)
	}
	if c := dlContainers(t, docker, project); c["kvstore"].State != "running" {
		t.Fatalf("kvstore not running while watching: %v", dlIDs(c))
	}
	if code := r.stop(); code != ExitInterrupted {
		t.Errorf("up --watch after Ctrl-C exited %d, want %d\n%s", code, ExitInterrupted, r.dump())
	}
	ctrs, nets, _ := leftovers(t, docker, project)
	if len(ctrs)+len(nets) > 0 {
		t.Errorf("up --watch --down left containers %v networks %v after Ctrl-C", ctrs, nets)
	}
}

// dlRunsImage checks that when the loop says "ready" the running container is the new image
// (and stays so: nothing brings the previous one back).
func dlRunsImage(t *testing.T, w *dlRun, docker client.APIClient, project, want string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		c := dlContainers(t, docker, project)["repo-manager"]
		if c.Image != want || c.State != "running" {
			t.Fatalf("after ready %s, repo-manager runs %s (%s)\n%s", want, c.Image, c.State, w.dump())
		}
		time.Sleep(2500 * time.Millisecond) // one supervision interval later
	}
}

func dlEvents(t *testing.T, r *dlRun) []dlEvent {
	t.Helper()
	evs, err := r.out.events()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func dlSameIDs(a, b map[string]container.Summary, services ...string) bool {
	for _, s := range services {
		if a[s].ID == "" || a[s].ID != b[s].ID {
			return false
		}
	}
	return true
}

func dlIDs(m map[string]container.Summary) map[string]string {
	out := map[string]string{}
	for s, c := range m {
		out[s] = fmt.Sprintf("%.12s/%s", c.ID, c.State)
	}
	return out
}

func dlContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
