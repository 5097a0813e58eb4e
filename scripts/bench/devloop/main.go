// Command devloop measures clocal's edit-to-running latency for repo-manager on the real
// Docker daemon and compares it with the compose CLI's `watch` (rebuild action) on the same
// service, in the same session. See README.md for what exactly is compared.
//
//	go run ./scripts/bench/devloop -clocal /tmp/clocal -compose $(go env GOPATH)/bin/cmd -n 10
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"gopkg.in/yaml.v3"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/watch"
)

var (
	flagClocal  = flag.String("clocal", "", "clocal binary (required)")
	flagCompose = flag.String("compose", "", "compose CLI binary: a plugin build is run as `BIN compose ...`, one named docker-compose standalone (empty: skip the baseline)")
	flagRepo    = flag.String("repo", ".", "repository root (the example workspace)")
	flagN       = flag.Int("n", 10, "edits per phase")
	flagSettle  = flag.Duration("settle", 3*time.Second, "pause between edits")
	flagJitter  = flag.Duration("jitter", time.Second, "random extra pause in [0, jitter) before each edit (see pause)")
	flagOut     = flag.String("json", "", "also write the raw samples as JSON to this file")
	flagKeep    = flag.Bool("keep", false, "keep the workspace copy and the stacks (debugging)")
	flagBK      = flag.Bool("buildkit", false, "let compose build with the daemon's BuildKit, as clocal does (default: compose's classic builder)")
	flagRemote  = flag.String("remote", "", "also run clocal with DOCKER_HOST=this (an ssh:// host) on a third copy, its edits interleaved with the local ones: edit → served through the port forward")
)

var errUnhealthy = errors.New("new container unhealthy")

const debounce = watch.DefaultDebounce // clocal's default quiet period (clocal watch --debounce)

var docker client.APIClient

func main() {
	flag.Parse()
	if *flagClocal == "" {
		fatalf("-clocal is required (scripts/bench/devloop/run.sh builds it)")
	}
	var err error
	// The daemon clocal talks to (DOCKER_HOST, the docker context), as clocal resolves it.
	docker, err = engine.NewAPIClient(context.Background(), "", "")
	if err != nil {
		fatalf("docker: %v", err)
	}
	repo, _ := filepath.Abs(*flagRepo)
	// Two copies: clocal watches one, compose the other, so the phases can be interleaved
	// edit by edit (the machine's load drifts; both tools see the same drift).
	wsClocal, wsCompose := mustCopy(repo), mustCopy(repo)
	var wsRemote string
	var remoteEnv []string
	if *flagRemote != "" {
		wsRemote = mustCopy(repo)
		remoteEnv = append(os.Environ(), "DOCKER_HOST="+*flagRemote)
	}
	project := "clocalbench-" + randHex()
	logf("workspace copies %s (clocal) %s (compose), project %s, %d edits each", wsClocal, wsCompose, project, *flagN)
	rep := report{LoadStart: loadavg()}
	logf("load average at start: %s", rep.LoadStart)

	var stops []func()
	cleanup := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stops = nil
		if *flagKeep {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_ = run(ctx, nil, io.Discard, *flagClocal, "-w", wsClocal, "-p", project, "down", "-v", "-t", "2s")
		if wsRemote != "" {
			// its images go with the host (scripts/bench/remotehost removes it)
			_ = run(ctx, remoteEnv, io.Discard, *flagClocal, "-w", wsRemote, "-p", project, "down", "-v", "-t", "2s")
			_ = os.RemoveAll(wsRemote)
		}
		if *flagCompose != "" {
			_ = run(ctx, composeEnv(), io.Discard, *flagCompose, composeArgs("-f", filepath.Join(wsCompose, "compose.bench.yaml"), "-p", project+"-compose", "down", "-v", "-t", "2")...)
		}
		removeImages(ctx, labels.Workspace+"="+wsClocal)
		removeImages(ctx, labels.Bench+"="+project)
		_ = os.RemoveAll(wsClocal)
		_ = os.RemoveAll(wsCompose)
	}
	defer cleanup()
	die := func(format string, args ...any) {
		cleanup()
		fatalf(format, args...)
	}

	rep.Detect = detection(wsClocal, *flagN*3)
	cl, err := startClocal(wsClocal, project, nil)
	if cl != nil {
		stops = append(stops, cl.stop)
	}
	if err != nil {
		die("clocal: %v", err)
	}
	var rm *clocalRun
	if wsRemote != "" {
		rm, err = startClocal(wsRemote, project, remoteEnv)
		if rm != nil {
			stops = append(stops, rm.stop)
		}
		if err != nil {
			die("clocal on %s: %v", *flagRemote, err)
		}
	}
	var co *composeRun
	if *flagCompose != "" {
		co, err = startCompose(wsClocal, wsCompose, project)
		if co != nil {
			stops = append(stops, co.stop)
		}
		if err != nil {
			die("compose: %v", err)
		}
	}
	for i := 0; len(rep.Clocal) < *flagN; i++ {
		pause()
		s, err := cl.edit(i)
		if errors.Is(err, errUnhealthy) && rep.Unhealthy < *flagN {
			rep.Unhealthy++
			logf("clocal edit %d: %v (rolled back; retrying)", i, err)
			continue
		}
		if err != nil {
			die("clocal edit %d: %v", i, err)
		}
		rep.Clocal = append(rep.Clocal, s)
		for rm != nil {
			pause()
			r, err := rm.edit(i)
			if errors.Is(err, errUnhealthy) && rep.Unhealthy < *flagN {
				rep.Unhealthy++
				logf("clocal edit %d on %s: %v (rolled back; retrying)", i, *flagRemote, err)
				continue
			}
			if err != nil {
				die("clocal edit %d on %s: %v", i, *flagRemote, err)
			}
			rep.Remote = append(rep.Remote, r)
			break
		}
		if co == nil {
			continue
		}
		pause()
		k, err := co.edit(i)
		if err != nil {
			die("compose edit %d: %v", i, err)
		}
		rep.Compose = append(rep.Compose, k)
	}
	rep.LoadEnd = loadavg()
	rep.print(os.Stdout)
	if *flagOut != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*flagOut, data, 0o644); err != nil {
			die("%v", err)
		}
	}
}

// pause waits -settle plus a random part of -jitter before an edit. The random part is
// there because the daemon's image export is phase-locked to the wall clock: with a
// storage driver that diffs layers naively (fuse-overlayfs, vfs), dockerd ends every layer
// diff that has a parent by sleeping until the next whole second (NaiveDiffDriver.Diff),
// so a build's "exporting layers" always finishes just after a second boundary. Without
// the jitter, each edit would start a fixed time after the previous one's whole-second
// boundary, and each tool would sit at its own fixed phase of that second: one tool
// could wait 0.1 s for the boundary on every edit and the other 0.9 s, by accident of
// its timing. A uniformly random start gives both the same expected wait.
func pause() {
	d := *flagSettle
	if *flagJitter > 0 {
		d += mrand.N(*flagJitter)
	}
	time.Sleep(d)
}

func mustCopy(repo string) string {
	ws, err := os.MkdirTemp("", "clocal-bench-devloop-")
	if err != nil {
		fatalf("%v", err)
	}
	if err := copyWorkspace(repo, ws); err != nil {
		fatalf("copy workspace: %v", err)
	}
	return ws
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(data))
}

// ---- detection ----

// detection measures file write → ChangeSet through clocal's watcher with a 1 ms quiet
// period (so the number is fsnotify + clocal's event path, not the debounce).
func detection(ws string, n int) []float64 {
	root := filepath.Join(ws, "apps", "repo-manager")
	w, err := watch.New([]watch.Target{{Service: "repo-manager", Root: root}}, watch.Options{Debounce: time.Millisecond})
	if err != nil {
		fatalf("watch: %v", err)
	}
	defer w.Close()
	var out []float64
	f := filepath.Join(root, "detect_probe.txt")
	for i := range n {
		t0 := time.Now()
		if err := os.WriteFile(f, []byte(fmt.Sprint(i)), 0o644); err != nil {
			fatalf("%v", err)
		}
		select {
		case <-w.Changes():
			out = append(out, ms(time.Since(t0)))
		case <-time.After(10 * time.Second):
			fatalf("detection: no change set within 10s")
		}
		time.Sleep(50 * time.Millisecond)
		drain(w)
	}
	_ = os.Remove(f)
	time.Sleep(100 * time.Millisecond)
	drain(w)
	logf("detection: median %.1f ms over %d writes", median(out), n)
	return out
}

func drain(w *watch.Watcher) {
	for {
		select {
		case <-w.Changes():
		case <-time.After(20 * time.Millisecond):
			return
		}
	}
}

// ---- clocal ----

type event struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	Kind    string    `json:"kind"`
	Image   string    `json:"image"`
	Error   string    `json:"error"`
	Total   float64   `json:"total_ms"`
	Detect  float64   `json:"detect_ms"`
	Script  float64   `json:"build_sh_ms"`
	ImageMs float64   `json:"image_ms"`
	Start   float64   `json:"start_health_ms"`
}

// ClocalSample is one edit under `clocal watch`. Times are milliseconds.
type ClocalSample struct {
	WriteToChange float64 // file write → "change" event (detection + debounce + queueing)
	Queue         float64 // detect_ms of the ready event: change set → build start
	Script        float64 // build.sh
	Image         float64 // image build through the Engine API
	StartHealth   float64 // compose recreate + wait until healthy
	Orchestration float64 // total − queue − build.sh − image − start+health: hashing, project derivation...
	Overhead      float64 // clocal's own: (write→change − debounce) + orchestration
	EditToReady   float64 // file write → "ready" event (container healthy)
	EditToServed  float64 // file write → GET / returns the new marker
}

type clocalRun struct {
	ws, project string
	events      chan event
	logName     string
	stop        func()
	// on another Docker host: the environment naming it, and repo-manager's address on
	// this machine (a port forward that keeps its port when the container is replaced)
	env        []string
	remoteAddr string
}

func startClocal(ws, project string, env []string) (*clocalRun, error) {
	ctx := context.Background()
	where := ""
	if env != nil {
		where = " on " + *flagRemote
	}
	logf("clocal: up repo-manager%s (builds the copy's images)", where)
	if err := run(ctx, env, os.Stderr, *flagClocal, "-w", ws, "-p", project, "up", "repo-manager", "--ephemeral-ports", "--timeout", "5m"); err != nil {
		return nil, err
	}
	cmd := exec.Command(*flagClocal, "-w", ws, "-p", project, "watch", "--json")
	cmd.Env = env
	stdout, _ := cmd.StdoutPipe()
	logFile, err := os.Create(filepath.Join(os.TempDir(), project+"-watch.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &clocalRun{ws: ws, project: project, events: make(chan event, 100), logName: logFile.Name(), env: env}
	r.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
		logFile.Close()
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err == nil && e.Kind != "" {
				r.events <- e
			}
		}
		close(r.events)
	}()
	if _, err := r.next(5*time.Minute, "watching"); err != nil {
		return r, err
	}
	if env != nil {
		var out strings.Builder
		if err := run(ctx, env, &out, *flagClocal, "-w", ws, "-p", project, "port", "repo-manager", "8866"); err != nil {
			return r, err
		}
		r.remoteAddr = strings.TrimSpace(out.String())
		logf("clocal: stack on %s, repo-manager answers here at %s", *flagRemote, r.remoteAddr)
	}
	return r, nil
}

func (r *clocalRun) next(timeout time.Duration, kinds ...string) (event, error) {
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-r.events:
			if !ok {
				return event{}, fmt.Errorf("clocal watch exited (see %s)", r.logName)
			}
			if e.Kind == "error" || e.Kind == "build-failed" || e.Kind == "unhealthy" {
				return e, fmt.Errorf("%s %s: %s", e.Service, e.Kind, e.Error)
			}
			for _, k := range kinds {
				if e.Kind == k {
					return e, nil
				}
			}
		case <-deadline:
			return event{}, fmt.Errorf("no %v event within %s", kinds, timeout)
		}
	}
}

func (r *clocalRun) edit(i int) (ClocalSample, error) {
	want := fmt.Sprintf("clocal-%d-%s", i, r.project)
	t0 := time.Now()
	writeMarker(r.ws, want)
	served := make(chan time.Time, 1)
	go func() {
		if r.remoteAddr != "" {
			served <- waitMarkerAt(func() string { return r.remoteAddr }, want, 5*time.Minute)
			return
		}
		served <- waitMarker(r.project, want, 5*time.Minute)
	}()
	ch, err := r.next(5*time.Minute, "change")
	if err != nil {
		return ClocalSample{}, err
	}
	rd, err := r.next(5*time.Minute, "ready")
	if err != nil {
		if rd.Kind == "unhealthy" {
			// The machine is overloaded enough for the healthcheck (2 s timeout) to fail 30
			// times in a row: clocal rolls back. Not a latency sample; the caller retries.
			if _, rerr := r.next(5*time.Minute, "rolled-back"); rerr != nil {
				return ClocalSample{}, rerr
			}
			<-served
			return ClocalSample{}, fmt.Errorf("%w: %v", errUnhealthy, err)
		}
		return ClocalSample{}, err
	}
	ts := <-served
	if ts.IsZero() {
		return ClocalSample{}, fmt.Errorf("GET / never returned %s", want)
	}
	s := ClocalSample{
		WriteToChange: ms(ch.Time.Sub(t0)),
		Queue:         rd.Detect,
		Script:        rd.Script,
		Image:         rd.ImageMs,
		StartHealth:   rd.Start,
		EditToReady:   ms(rd.Time.Sub(t0)),
		EditToServed:  ms(ts.Sub(t0)),
	}
	s.Orchestration = rd.Total - rd.Detect - rd.Script - rd.ImageMs - rd.Start
	s.Overhead = s.WriteToChange - ms(debounce) + s.Orchestration
	logf("clocal edit %d: write→change %.0f, build.sh %.0f, image %.0f, start+health %.0f, orchestration %.0f, overhead %.0f, edit→served %.0f, edit→ready %.0f ms",
		i, s.WriteToChange, s.Script, s.Image, s.StartHealth, s.Orchestration, s.Overhead, s.EditToServed, s.EditToReady)
	return s, nil
}

// ---- compose baseline ----

// ComposeSample is one edit under `compose watch` with a rebuild action on the service
// folder. The trigger is the new binary appearing in the build context (renamed into
// .src/target/ after build.sh ran in a staging copy: compose cannot run build.sh).
type ComposeSample struct {
	Script        float64 // build.sh (run by the benchmark, outside compose)
	SwapToServed  float64 // binary renamed into the context → GET / returns the new marker
	SwapToHealthy float64 // binary renamed into the context → the new container is healthy
	EditToServed  float64 // Script + SwapToServed: what a developer waits for per edit
	EditToHealthy float64 // Script + SwapToHealthy
}

// composeArgs prefixes "compose" for a CLI plugin build (run as `BIN compose ...`); a binary
// named docker-compose runs standalone.
func composeArgs(args ...string) []string {
	if filepath.Base(*flagCompose) == "docker-compose" {
		return args
	}
	return append([]string{"compose"}, args...)
}

func composeEnv() []string {
	env := append(os.Environ(), "COMPOSE_BAKE=false", "COMPOSE_MENU=false")
	if !*flagBK {
		env = append(env, "DOCKER_BUILDKIT=0")
	}
	return env
}

type composeRun struct {
	ws, project, name string
	stage, svcDir     string
	logName           string
	stop              func()
}

// startCompose starts the baseline: the compose file is `clocal config` of the clocal copy
// (whose kvstore and markdown-renderer images exist), with repo-manager built by compose
// from the compose copy's service folder.
func startCompose(wsClocal, ws, project string) (*composeRun, error) {
	ctx := context.Background()
	name := project + "-compose"
	file := filepath.Join(ws, "compose.bench.yaml")
	svcDir := filepath.Join(ws, "services", "repo-manager")
	stage := filepath.Join(ws, ".bench-stage")
	if err := copyTree(svcDir, stage); err != nil {
		return nil, err
	}
	// The initial binary (compose cannot run build.sh).
	if err := buildInStage(ws, stage); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(svcDir, ".src", "target"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(stage, ".src", "target", "repo-manager"), filepath.Join(svcDir, ".src", "target", "repo-manager")); err != nil {
		return nil, err
	}
	if err := writeComposeFile(wsClocal, svcDir, project, file); err != nil {
		return nil, err
	}
	env := composeEnv()
	logf("compose: up --build")
	// Not --wait: under heavy load compose's wait has reported a starting container as
	// unhealthy; poll for health with a generous timeout instead.
	if err := run(ctx, env, os.Stderr, *flagCompose, composeArgs("-f", file, "-p", name, "up", "-d", "--build")...); err != nil {
		return nil, err
	}
	if waitHealthy(name, "", 5*time.Minute).IsZero() {
		return nil, errors.New("compose's repo-manager never became healthy")
	}
	cmd := exec.Command(*flagCompose, composeArgs("-f", file, "-p", name, "watch", "--no-up")...)
	cmd.Env = env
	logFile, err := os.Create(filepath.Join(os.TempDir(), name+"-watch.log"))
	if err != nil {
		return nil, err
	}
	lines := &lineTap{w: logFile}
	cmd.Stdout, cmd.Stderr = lines, lines
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &composeRun{ws: ws, project: project, name: name, stage: stage, svcDir: svcDir, logName: logFile.Name()}
	r.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
		}
		logFile.Close()
	}
	if !lines.wait("Watch enabled", 2*time.Minute) {
		return r, fmt.Errorf("compose watch did not report \"Watch enabled\" (see %s)", logFile.Name())
	}
	return r, nil
}

func buildInStage(ws, stage string) error {
	bcmd := exec.Command("sh", "./build.sh")
	bcmd.Dir = stage
	bcmd.Env = append(os.Environ(), "CLOCAL_SOURCE="+filepath.Join(ws, "apps", "repo-manager"))
	if outb, err := bcmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build.sh: %v\n%s", err, outb)
	}
	return nil
}

func (r *composeRun) edit(i int) (ComposeSample, error) {
	want := fmt.Sprintf("compose-%d-%s", i, r.project)
	t0 := time.Now()
	writeMarker(r.ws, want)
	if err := buildInStage(r.ws, r.stage); err != nil {
		return ComposeSample{}, err
	}
	script := time.Since(t0)
	before := currentID(r.name)
	t1 := time.Now()
	if err := os.Rename(filepath.Join(r.stage, ".src", "target", "repo-manager"), filepath.Join(r.svcDir, ".src", "target", "repo-manager")); err != nil {
		return ComposeSample{}, err
	}
	ts := waitMarker(r.name, want, 5*time.Minute)
	if ts.IsZero() {
		return ComposeSample{}, fmt.Errorf("compose watch never served %s (see %s)", want, r.logName)
	}
	th := waitHealthy(r.name, before, 5*time.Minute)
	if th.IsZero() {
		return ComposeSample{}, errors.New("the new container never became healthy")
	}
	s := ComposeSample{Script: ms(script), SwapToServed: ms(ts.Sub(t1)), SwapToHealthy: ms(th.Sub(t1))}
	s.EditToServed = s.Script + s.SwapToServed
	s.EditToHealthy = s.Script + s.SwapToHealthy
	logf("compose edit %d: build.sh %.0f, swap→served %.0f, swap→healthy %.0f ms", i, s.Script, s.SwapToServed, s.SwapToHealthy)
	return s, nil
}

// writeComposeFile turns `clocal config repo-manager --ephemeral-ports` into a compose file
// whose repo-manager is built by compose from the service folder and rebuilt by watch.
func writeComposeFile(ws, svcDir, project, file string) error {
	var stdout strings.Builder
	cmd := exec.Command(*flagClocal, "-w", ws, "config", "repo-manager", "--ephemeral-ports")
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("clocal config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(stdout.String()), &doc); err != nil {
		return err
	}
	svcs, _ := doc["services"].(map[string]any)
	rm, _ := svcs["repo-manager"].(map[string]any)
	if rm == nil {
		return errors.New("clocal config has no repo-manager service")
	}
	rm["image"] = "clocalbench/repo-manager:" + project
	rm["pull_policy"] = "never"
	rm["build"] = map[string]any{
		"context":    svcDir,
		"dockerfile": "Dockerfile",
		"labels":     map[string]any{labels.Bench: project},
	}
	rm["develop"] = map[string]any{"watch": []any{map[string]any{
		"action": "rebuild",
		"path":   filepath.Join(svcDir, ".src", "target"),
	}}}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

// ---- helpers ----

func writeMarker(ws, marker string) {
	src := fmt.Sprintf("package main\n\n// BuildMarker shows up in GET / so a rebuild is visible.\nconst BuildMarker = %q\n", marker)
	if err := os.WriteFile(filepath.Join(ws, "apps", "repo-manager", "marker.go"), []byte(src), 0o644); err != nil {
		fatalf("%v", err)
	}
}

var httpc = &http.Client{Timeout: 2 * time.Second}

// addr resolves repo-manager's current published address (a new container gets a new port).
func addr(project string) (id, hostport string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labels.ComposeProject+"="+project),
		filters.Arg("label", labels.ComposeService+"=repo-manager"),
		filters.Arg("status", "running"))})
	if err != nil {
		return "", ""
	}
	for _, c := range cl {
		for _, p := range c.Ports {
			if p.PrivatePort == 8866 && p.PublicPort != 0 && !strings.Contains(p.IP, ":") {
				return c.ID, fmt.Sprintf("127.0.0.1:%d", p.PublicPort)
			}
		}
	}
	return "", ""
}

// waitMarker polls GET / every 20 ms until it returns want; zero time on timeout.
func waitMarker(project, want string, timeout time.Duration) time.Time {
	return waitMarkerAt(func() string { _, a := addr(project); return a }, want, timeout)
}

// waitMarkerAt is waitMarker at the address addr returns ("" while there is none).
func waitMarkerAt(addr func() string, want string, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if a := addr(); a != "" {
			if resp, err := httpc.Get("http://" + a + "/"); err == nil {
				var body struct {
					Marker string `json:"marker"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if body.Marker == want {
					return time.Now()
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}
}

func currentID(project string) string {
	id, _ := addr(project)
	return id
}

// waitHealthy polls until repo-manager runs in a container other than before and is healthy.
func waitHealthy(project, before string, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if id, _ := addr(project); id != "" && id != before {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			insp, err := docker.ContainerInspect(ctx, id)
			cancel()
			if err == nil && insp.State != nil && insp.State.Health != nil && insp.State.Health.Status == "healthy" {
				return time.Now()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}
}

func removeImages(ctx context.Context, label string) {
	imgs, err := docker.ImageList(ctx, image.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	if err != nil {
		return
	}
	for _, im := range imgs {
		_, _ = docker.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: true, PruneChildren: true})
	}
}

// lineTap copies output to w and lets callers wait for a substring.
type lineTap struct {
	w   io.Writer
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lineTap) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lineTap) wait(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		ok := strings.Contains(strings.ToLower(l.buf.String()), strings.ToLower(s))
		l.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func run(ctx context.Context, env []string, stderr io.Writer, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = env
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return nil
}

// copyWorkspace copies what testutil.CopyWorkspace copies (no build outputs, no state).
func copyWorkspace(src, dst string) error {
	for _, name := range []string{"clocal.yaml", "go.mod", "go.sum", "services", "profiles", "apps"} {
		if err := copyTree(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() && (info.Name() == ".src" || info.Name() == ".clocal" || info.Name() == ".git") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func randHex() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "devloop bench: "+format+"\n", args...)
	os.Exit(1)
}

// ---- report ----

type report struct {
	Detect    []float64       `json:"detect_ms"`
	Clocal    []ClocalSample  `json:"clocal"`
	Compose   []ComposeSample `json:"compose,omitempty"`
	Remote    []ClocalSample  `json:"clocal_remote,omitempty"`
	Unhealthy int             `json:"unhealthy_retries"`
	LoadStart string          `json:"load_start"`
	LoadEnd   string          `json:"load_end"`
}

func col[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	return median(v)
}

func mean[T any](xs []T, f func(T) float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += f(x)
	}
	return sum / float64(len(xs))
}

func (r report) print(w io.Writer) {
	fmt.Fprintf(w, "\ndev loop benchmark: repo-manager, medians over %d edits (ms)\n", len(r.Clocal))
	fmt.Fprintf(w, "detection (write → ChangeSet, 1 ms quiet period)     %8.1f  (%d writes)\n", median(r.Detect), len(r.Detect))
	c := r.Clocal
	fmt.Fprintf(w, "clocal: write → change event (detect + %v debounce) %8.1f\n", debounce, col(c, func(s ClocalSample) float64 { return s.WriteToChange }))
	fmt.Fprintf(w, "clocal: queue (change set → build start)             %8.1f\n", col(c, func(s ClocalSample) float64 { return s.Queue }))
	fmt.Fprintf(w, "clocal: orchestration (total − build.sh − image − start+health − queue) %8.1f\n", col(c, func(s ClocalSample) float64 { return s.Orchestration }))
	fmt.Fprintf(w, "clocal: OVERHEAD (detect + queue + orchestration, debounce excluded) %8.1f  (target < 150)\n", col(c, func(s ClocalSample) float64 { return s.Overhead }))
	fmt.Fprintf(w, "clocal: build.sh                                      %8.1f\n", col(c, func(s ClocalSample) float64 { return s.Script }))
	fmt.Fprintf(w, "clocal: image build                                   %8.1f\n", col(c, func(s ClocalSample) float64 { return s.Image }))
	fmt.Fprintf(w, "clocal: start+health (recreate, wait healthy)         %8.1f\n", col(c, func(s ClocalSample) float64 { return s.StartHealth }))
	cs := col(c, func(s ClocalSample) float64 { return s.EditToServed })
	cr := col(c, func(s ClocalSample) float64 { return s.EditToReady })
	fmt.Fprintf(w, "clocal: edit → GET / serves new marker                %8.1f\n", cs)
	fmt.Fprintf(w, "clocal: edit → ready (healthy)                        %8.1f\n", cr)
	if len(r.Remote) > 0 {
		m := r.Remote
		fmt.Fprintf(w, "clocal on %s (build.sh here, image there, served through the forward):\n", *flagRemote)
		fmt.Fprintf(w, "  write → change event                                %8.1f\n", col(m, func(s ClocalSample) float64 { return s.WriteToChange }))
		fmt.Fprintf(w, "  orchestration                                       %8.1f\n", col(m, func(s ClocalSample) float64 { return s.Orchestration }))
		fmt.Fprintf(w, "  build.sh                                            %8.1f\n", col(m, func(s ClocalSample) float64 { return s.Script }))
		fmt.Fprintf(w, "  image build (remote BuildKit, context uploaded)     %8.1f\n", col(m, func(s ClocalSample) float64 { return s.Image }))
		fmt.Fprintf(w, "  start+health (recreate there, wait healthy)         %8.1f\n", col(m, func(s ClocalSample) float64 { return s.StartHealth }))
		ms := col(m, func(s ClocalSample) float64 { return s.EditToServed })
		fmt.Fprintf(w, "  edit → GET / serves new marker                      %8.1f  (%.2f× this machine's %.1f)\n", ms, ms/cs, cs)
		fmt.Fprintf(w, "  edit → ready (healthy)                              %8.1f\n", col(m, func(s ClocalSample) float64 { return s.EditToReady }))
	}
	if len(r.Compose) > 0 {
		k := r.Compose
		bs := col(k, func(s ComposeSample) float64 { return s.Script })
		ss := col(k, func(s ComposeSample) float64 { return s.SwapToServed })
		sh := col(k, func(s ComposeSample) float64 { return s.SwapToHealthy })
		es := col(k, func(s ComposeSample) float64 { return s.EditToServed })
		eh := col(k, func(s ComposeSample) float64 { return s.EditToHealthy })
		fmt.Fprintf(w, "compose: build.sh (run by the benchmark)              %8.1f\n", bs)
		fmt.Fprintf(w, "compose: binary in context → serves new marker        %8.1f\n", ss)
		fmt.Fprintf(w, "compose: binary in context → healthy                  %8.1f\n", sh)
		fmt.Fprintf(w, "compose: edit → serves (build.sh + watch rebuild)     %8.1f\n", es)
		fmt.Fprintf(w, "compose: edit → healthy                               %8.1f\n", eh)
		cNoScript := col(c, func(s ClocalSample) float64 { return s.EditToServed - s.Script })
		fmt.Fprintf(w, "ratio clocal/compose edit → serves                    %8.2f  (target ≤ 1)\n", cs/es)
		fmt.Fprintf(w, "ratio clocal/compose edit → healthy                   %8.2f\n", cr/eh)
		fmt.Fprintf(w, "ratio clocal/compose without build.sh (→ serves)      %8.2f  (clocal edit→served − build.sh vs compose swap→served)\n", cNoScript/ss)
		// The daemon's whole-second wait in the export (see pause) makes each sample
		// carry a uniform 0–1 s term: the mean is as telling as the median.
		cm := mean(c, func(s ClocalSample) float64 { return s.EditToServed })
		km := mean(k, func(s ComposeSample) float64 { return s.EditToServed })
		fmt.Fprintf(w, "ratio of means, edit → serves                         %8.2f  (clocal %.1f, compose %.1f)\n", cm/km, cm, km)
	}
	fmt.Fprintf(w, "clocal edits rolled back as unhealthy (load) and retried: %d\n", r.Unhealthy)
	fmt.Fprintf(w, "load average at start: %s, at end: %s\n", r.LoadStart, r.LoadEnd)
}
