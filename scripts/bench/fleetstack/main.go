// Command fleet benchmarks clocal on a generated workspace of N services (default 60) that
// all compile one shared source folder (testutil.WriteFleet: production-shaped jobs, each
// service's build.sh compiles it with the Go toolchain, the example's 1 s healthchecks),
// in one session:
//
//  1. cold `clocal up all` (every image built, every container started in dependency order)
//  2. idle CPU of the running stack (/proc/stat), with and without `clocal watch` running
//  3. `clocal up all` with nothing to do, against the compose CLI's `up -d --wait` on the
//     same generated project (`clocal config all`), alternating runs
//  4. an edit of the shared source under `clocal watch`: time until every service serves
//     it, cycle outcomes (rollbacks...), the watch process's peak RSS
//
// The load average is recorded at each step: the machine is shared. See run.sh.
//
//	go run ./scripts/bench/fleetstack -clocal /tmp/clocal -compose scripts/bench/out/docker-compose
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

var (
	flagClocal  = flag.String("clocal", "", "clocal binary (required)")
	flagCompose = flag.String("compose", "", "standalone compose CLI (docker-compose v2.40.3; empty: skip the baseline)")
	flagN       = flag.Int("n", 60, "services")
	flagFanout  = flag.Int("fanout", 4, "dependency tree fan-out (service i depends on (i-1)/fanout)")
	flagRuns    = flag.Int("runs", 10, "no-op up runs per tool")
	flagIdle    = flag.Duration("idle", 2*time.Minute, "idle CPU sample (one Docker probe interval covers every container's probe)")
	flagSkip    = flag.String("skip", "", "comma-separated steps to skip: idle, noop, edit")
	flagKeep    = flag.Bool("keep", false, "keep the workspace and the stacks (debugging)")
	flagOut     = flag.String("json", "", "also write the results as JSON to this file")
)

// result is what one session measured.
type result struct {
	Services      int               `json:"services"`
	Load          map[string]string `json:"load"` // step -> /proc/loadavg
	ColdUp        float64           `json:"cold_up_s"`
	IdleNoWatch   float64           `json:"idle_busy_pct"`
	IdleWatch     float64           `json:"idle_busy_with_watch_pct"`
	IdleBaseline  float64           `json:"idle_busy_nothing_pct"`
	IdleStack     idleCost          `json:"idle_stack"`
	IdleWatchCPU  float64           `json:"idle_watch_cpu_pct_of_core"`
	NoopClocal    []float64         `json:"noop_clocal_s"`
	NoopCompose   []float64         `json:"noop_compose_s"`
	Edit          float64           `json:"edit_all_served_s"`
	EditOutcomes  map[string]int    `json:"edit_outcomes"`
	WatchPeakRSS  int               `json:"watch_peak_rss_kb"`
	WatchIdleRSS  int               `json:"watch_idle_rss_kb"`
	EditNotServed []string          `json:"edit_not_served,omitempty"`
}

var (
	docker  *client.Client
	ws      string
	project string
	res     = result{Load: map[string]string{}, EditOutcomes: map[string]int{}}
	skip    = map[string]bool{}
)

func main() {
	flag.Parse()
	if *flagClocal == "" {
		fatalf("-clocal is required (run.sh builds it)")
	}
	for _, s := range strings.Split(*flagSkip, ",") {
		skip[strings.TrimSpace(s)] = true
	}
	var err error
	docker, err = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		fatalf("docker: %v", err)
	}
	ws, err = os.MkdirTemp("", "clocal-fleet-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	project = "bench-fleet-" + strconv.Itoa(os.Getpid())
	res.Services = *flagN
	if _, err := testutil.WriteFleet(ws, testutil.FleetOptions{Services: *flagN, Fanout: *flagFanout}); err != nil {
		fatalf("generate: %v", err)
	}
	defer cleanup()
	logf("workspace %s: %d services (fan-out %d), project %s", ws, *flagN, *flagFanout, project)
	load("start")

	// 0. What the machine does without the stack (other engineers' work included).
	if !skip["idle"] {
		res.IdleBaseline = busy(20 * time.Second)
		logf("idle before the stack: %.1f%% busy", res.IdleBaseline)
	}

	// 1. Cold up.
	start := time.Now()
	clocal("up", "all", "--ephemeral-ports", "--timeout", "20m")
	res.ColdUp = time.Since(start).Seconds()
	load("after cold up")
	logf("cold up all: %.1f s", res.ColdUp)

	// 2. Idle CPU, once Docker's own (slow) probes are part of the sample.
	if !skip["idle"] {
		waitFor := 2*time.Minute + 5*time.Second - time.Since(start)
		if waitFor > 0 {
			logf("waiting %s: every container's first Docker probe is due 2 minutes after its start", waitFor.Round(time.Second))
			time.Sleep(waitFor)
		}
		a := cpuTimes()
		res.IdleStack = measureIdle(*flagIdle)
		res.IdleNoWatch = busySince(a)
		logf("idle, %d healthy services: %d probes (%.2f/s); the stack's containers and shims %.2f CPU-s = %.2f%% of the machine (with all of dockerd and containerd, others' work included: %.2f%%); whole machine %.1f%% busy",
			*flagN, res.IdleStack.Execs, res.IdleStack.ExecsPerSec, res.IdleStack.ContainersCPU+res.IdleStack.ShimsCPU, res.IdleStack.StackPct, res.IdleStack.UpperPct, res.IdleNoWatch)
		w := startWatch()
		time.Sleep(5 * time.Second) // its start (the loop's stale check) is not idle
		cpu0, t0 := procCPU(w.cmd.Process.Pid), time.Now()
		res.IdleWatch = busy(*flagIdle / 2)
		res.IdleWatchCPU = 100 * (procCPU(w.cmd.Process.Pid) - cpu0) / time.Since(t0).Seconds()
		res.WatchIdleRSS = w.rss("VmRSS")
		w.stop()
		logf("idle with clocal watch running: the watch uses %.2f%% of one core (RSS %d kB); whole machine %.1f%% busy", res.IdleWatchCPU, res.WatchIdleRSS, res.IdleWatch)
		load("after idle")
	}

	// 3. No-op up against the compose CLI on the same project.
	if !skip["noop"] {
		noop()
		load("after no-op")
	}

	// 4. A shared-source edit under watch.
	if !skip["edit"] {
		edit()
		load("end")
	}
	report()
}

func noop() {
	cf := filepath.Join(ws, "compose-cli.yaml")
	other := project + "-compose"
	if *flagCompose != "" {
		out := clocalOut("-p", other, "config", "all", "--ephemeral-ports")
		if err := os.WriteFile(cf, out, 0o644); err != nil {
			fatalf("%v", err)
		}
		logf("compose CLI: bringing up the same project as %s (its --wait waits for Docker's first, slow, probes)", other)
		composeRun(cf, other, "up", "-d", "--wait", "--wait-timeout", "600")
	}
	clocal("up", "all", "--ephemeral-ports") // warm-up
	for i := 0; i < *flagRuns; i++ {
		t := time.Now()
		clocal("up", "all", "--ephemeral-ports")
		res.NoopClocal = append(res.NoopClocal, time.Since(t).Seconds())
		if *flagCompose != "" {
			t = time.Now()
			composeRun(cf, other, "up", "-d", "--wait")
			res.NoopCompose = append(res.NoopCompose, time.Since(t).Seconds())
		}
	}
	m, s := meanSD(res.NoopClocal)
	logf("no-op up all, clocal: %.3f s ± %.3f s (min %.3f, max %.3f)", m, s, minOf(res.NoopClocal), maxOf(res.NoopClocal))
	if *flagCompose != "" {
		mc, sc := meanSD(res.NoopCompose)
		logf("no-op up -d --wait, compose CLI: %.3f s ± %.3f s (min %.3f, max %.3f); ratio clocal/compose %.3f", mc, sc, minOf(res.NoopCompose), maxOf(res.NoopCompose), m/mc)
		composeRun(cf, other, "down", "-v", "-t", "1")
	}
}

func edit() {
	w := startWatch()
	defer w.stop()
	names := make([]string, *flagN)
	for i := range names {
		names[i] = testutil.FleetName(i)
	}
	before := w.count()
	markerGo := filepath.Join(ws, "lib", "marker.go")
	src, err := os.ReadFile(markerGo)
	if err != nil {
		fatalf("%v", err)
	}
	start := time.Now()
	if err := os.WriteFile(markerGo, []byte(strings.Replace(string(src), `"v1"`, `"v2"`, 1)), 0o644); err != nil {
		fatalf("%v", err)
	}
	// Every service must serve m1/v2 (lib's Marker compiled in).
	pending := map[string]bool{}
	for _, n := range names {
		pending[n] = true
	}
	deadline := start.Add(30 * time.Minute)
	for len(pending) > 0 && time.Now().Before(deadline) {
		ports := servicePorts()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for n := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if served(ports[n]) == "m1/v2" {
					mu.Lock()
					delete(pending, n)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(pending) > 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	res.Edit = time.Since(start).Seconds()
	for n := range pending {
		res.EditNotServed = append(res.EditNotServed, n)
	}
	sort.Strings(res.EditNotServed)
	// Outcomes of the cycles the edit started (wait for each service's cycle to end).
	for time.Now().Before(deadline) {
		ends := w.ends(before)
		if len(ends) >= *flagN {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every cycle's outcome (a service may run two: the loop's start compares images with
	// the files, and an edit saved right after "watching" is seen by both that check and
	// the watcher; the second one finds the image current: "unchanged").
	for _, e := range w.events()[before:] {
		switch e.Kind {
		case "ready", "unchanged", "build-failed", "unhealthy", "rolled-back", "blocked", "restarted", "error":
			res.EditOutcomes[e.Kind]++
		}
	}
	res.WatchPeakRSS = w.rss("VmHWM")
	logf("shared edit: all %d served after %.1f s (cold up all: %.1f s, ratio %.2f); outcomes %v; watch peak RSS %d kB",
		*flagN-len(pending), res.Edit, res.ColdUp, res.Edit/res.ColdUp, res.EditOutcomes, res.WatchPeakRSS)
}

// idleCost is what the stack itself costs while idle, measured on a shared machine where the
// whole machine's busy share says little: the health probes run in the stack's containers
// (exec events of the project, from the daemon), the CPU time of the project's containers
// (their cgroups: the services and the probes' processes) and of their containerd shims,
// and the CPU time of dockerd and containerd (shared with everyone else's work: an upper
// bound of what the probes cost there).
type idleCost struct {
	Seconds       float64 `json:"seconds"`
	Execs         int     `json:"execs"`
	ExecsPerSec   float64 `json:"execs_per_s"`
	ContainersCPU float64 `json:"containers_cpu_s"`
	ShimsCPU      float64 `json:"shims_cpu_s"`
	DaemonsCPU    float64 `json:"dockerd_containerd_cpu_s"`
	// StackPct is containers + shims, as a share of the 2-core machine's capacity.
	StackPct float64 `json:"stack_pct_of_machine"`
	// UpperPct adds all of dockerd's and containerd's CPU (others' work included).
	UpperPct float64 `json:"stack_plus_daemons_pct_of_machine"`
}

// measureIdle samples the stack's own cost over d.
func measureIdle(d time.Duration) idleCost {
	ids := containerIDs()
	c0, s0, d0 := cgroupCPU(ids), shimCPU(ids), daemonCPU()
	since := time.Now()
	time.Sleep(d)
	until := time.Now()
	c1, s1, d1 := cgroupCPU(ids), shimCPU(ids), daemonCPU()
	secs := until.Sub(since).Seconds()
	cores := float64(numCPU())
	ic := idleCost{Seconds: secs, Execs: execEvents(since, until), ContainersCPU: c1 - c0, ShimsCPU: s1 - s0, DaemonsCPU: d1 - d0}
	ic.ExecsPerSec = float64(ic.Execs) / secs
	ic.StackPct = 100 * (ic.ContainersCPU + ic.ShimsCPU) / (secs * cores)
	ic.UpperPct = 100 * (ic.ContainersCPU + ic.ShimsCPU + ic.DaemonsCPU) / (secs * cores)
	return ic
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	n := strings.Count(string(data), "\nprocessor")
	if strings.HasPrefix(string(data), "processor") {
		n++
	}
	return max(n, 1)
}

func containerIDs() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))})
	if err != nil {
		fatalf("list: %v", err)
	}
	var ids []string
	for _, c := range cl {
		ids = append(ids, c.ID)
	}
	return ids
}

// cgroupCPU sums the CPU seconds of the containers' cgroups (cgroup v1 cpuacct, or v2).
func cgroupCPU(ids []string) float64 {
	var total float64
	for _, id := range ids {
		for _, p := range []string{"/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage", "/sys/fs/cgroup/cpu,cpuacct/docker/" + id + "/cpuacct.usage"} {
			if b, err := os.ReadFile(p); err == nil {
				ns, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
				total += ns / 1e9
				break
			}
		}
		if b, err := os.ReadFile("/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "usage_usec" {
					us, _ := strconv.ParseFloat(f[1], 64)
					total += us / 1e6
				}
			}
		}
	}
	return total
}

// procCPU returns a process's user+system CPU seconds, its threads and its reaped children
// included (a shim's runc execs: each health probe).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var t float64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseFloat(f[i], 64)
		t += v
	}
	return t / 100 // USER_HZ
}

// pidsOf returns the pids whose command line satisfies match.
func pidsOf(match func(cmdline string) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && match(strings.ReplaceAll(string(b), "\x00", " ")) {
			out = append(out, pid)
		}
	}
	return out
}

func shimCPU(ids []string) float64 {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var total float64
	for _, pid := range pidsOf(func(c string) bool {
		if !strings.Contains(c, "containerd-shim") {
			return false
		}
		f := strings.Fields(c)
		for i := range f {
			if f[i] == "-id" && i+1 < len(f) && want[f[i+1]] {
				return true
			}
		}
		return false
	}) {
		total += procCPU(pid)
	}
	return total
}

func daemonCPU() float64 {
	var total float64
	for _, pid := range pidsOf(func(c string) bool {
		f := strings.Fields(c)
		return len(f) > 0 && (strings.HasSuffix(f[0], "/dockerd") || f[0] == "dockerd" || strings.HasSuffix(f[0], "/containerd") || f[0] == "containerd")
	}) {
		total += procCPU(pid)
	}
	return total
}

// execEvents counts exec_create events of the project's containers in [since, until].
func execEvents(since, until time.Time) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs, errs := docker.Events(ctx, events.ListOptions{
		Since: since.Format(time.RFC3339Nano), Until: until.Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("type", "container"), filters.Arg("label", labels.ComposeProject+"="+project)),
	})
	n := 0
	for {
		select {
		case m := <-msgs:
			if strings.HasPrefix(string(m.Action), "exec_create") {
				n++
			}
		case <-errs:
			return n
		}
	}
}

// watchProc is a running `clocal watch --json`.
type watchProc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	evs []event
}

type event struct {
	Service string `json:"service"`
	Kind    string `json:"kind"`
	Error   string `json:"error"`
}

func startWatch() *watchProc {
	w := &watchProc{cmd: exec.Command(*flagClocal, "-w", ws, "-p", project, "watch", "--json", "--timeout", "20m")}
	w.cmd.Stderr = io.Discard
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := w.cmd.Start(); err != nil {
		fatalf("watch: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) != nil || e.Kind == "" {
				continue
			}
			w.mu.Lock()
			w.evs = append(w.evs, e)
			w.mu.Unlock()
			if e.Kind == "watching" {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Minute):
		fatalf("clocal watch never reported watching")
	}
	return w
}

func (w *watchProc) events() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]event(nil), w.evs...)
}

func (w *watchProc) count() int { return len(w.events()) }

// ends returns, per service, the last cycle-ending event kind since index from.
func (w *watchProc) ends(from int) map[string]string {
	out := map[string]string{}
	for _, e := range w.events()[from:] {
		switch e.Kind {
		case "ready", "unchanged", "build-failed", "rolled-back", "blocked", "restarted":
			out[e.Service] = e.Kind
		}
	}
	return out
}

// rss reads a field (VmRSS, VmHWM) of the watch process, in kB.
func (w *watchProc) rss(field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, field+":") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}

func (w *watchProc) stop() {
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = w.cmd.Process.Kill()
	}
}

// servicePorts maps each service to its published host port for 8080.
func servicePorts() map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))})
	if err != nil {
		fatalf("list: %v", err)
	}
	out := map[string]int{}
	for _, c := range cl {
		for _, p := range c.Ports {
			if p.PrivatePort == 8080 && p.PublicPort != 0 && !strings.Contains(p.IP, ":") {
				out[c.Labels[labels.ComposeService]] = int(p.PublicPort)
			}
		}
	}
	return out
}

var httpc = &http.Client{Timeout: 3 * time.Second}

func served(port int) string {
	if port == 0 {
		return ""
	}
	resp, err := httpc.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body struct{ Marker string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Marker
}

// busy returns the share of CPU time (all cores) not idle over d, from /proc/stat.
func busy(d time.Duration) float64 {
	a := cpuTimes()
	time.Sleep(d)
	return busySince(a)
}

func busySince(a []float64) float64 {
	b := cpuTimes()
	var total, idle float64
	for i := range a {
		diff := b[i] - a[i]
		total += diff
		if i == 3 || i == 4 { // idle, iowait
			idle += diff
		}
	}
	return 100 * (total - idle) / total
}

func cpuTimes() []float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		fatalf("%v", err)
	}
	f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:]
	out := make([]float64, len(f))
	for i, s := range f {
		out[i], _ = strconv.ParseFloat(s, 64)
	}
	return out
}

func load(step string) {
	data, _ := os.ReadFile("/proc/loadavg")
	res.Load[step] = strings.Join(strings.Fields(string(data))[:3], " ")
	logf("load average %s: %s", step, res.Load[step])
}

func clocal(args ...string) {
	cmd := exec.Command(*flagClocal, append([]string{"-w", ws, "-p", project}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("clocal %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
	}
}

func clocalOut(args ...string) []byte {
	cmd := exec.Command(*flagClocal, append([]string{"-w", ws}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		fatalf("clocal %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func composeRun(file, name string, args ...string) {
	cmd := exec.Command(*flagCompose, append([]string{"-f", file, "-p", name}, args...)...)
	cmd.Env = append(os.Environ(), "COMPOSE_BAKE=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
	}
}

func cleanup() {
	if *flagKeep {
		logf("kept %s and project %s", ws, project)
		return
	}
	_ = exec.Command(*flagClocal, "-w", ws, "-p", project, "down", "-v", "-t", "1").Run()
	if *flagCompose != "" {
		_ = exec.Command(*flagCompose, "-f", filepath.Join(ws, "compose-cli.yaml"), "-p", project+"-compose", "down", "-v", "-t", "1").Run()
	}
	ctx := context.Background()
	imgs, err := docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Workspace+"="+ws))})
	if err == nil {
		for _, im := range imgs {
			_, _ = docker.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: true, PruneChildren: true})
		}
	}
	_ = os.RemoveAll(ws)
}

func report() {
	if *flagOut != "" {
		data, _ := json.MarshalIndent(res, "", "  ")
		_ = os.WriteFile(*flagOut, data, 0o644)
	}
	fmt.Println()
	fmt.Printf("| step (%d services) | figure |\n|---|---|\n", res.Services)
	fmt.Printf("| cold `up all` | %.1f s |\n", res.ColdUp)
	if !skip["idle"] {
		fmt.Printf("| idle CPU busy, nothing of ours running | %.1f%% |\n", res.IdleBaseline)
		ic := res.IdleStack
		fmt.Printf("| idle, %d healthy services: health probes | %d in %.0f s (%.2f/s) |\n", res.Services, ic.Execs, ic.Seconds, ic.ExecsPerSec)
		fmt.Printf("| idle: CPU of the stack's containers + shims | %.2f CPU-s = %.2f%% of the machine |\n", ic.ContainersCPU+ic.ShimsCPU, ic.StackPct)
		fmt.Printf("| idle: + all of dockerd and containerd (others' work included) | %.2f%% of the machine |\n", ic.UpperPct)
		fmt.Printf("| idle: whole machine busy, stack up | %.1f%% |\n", res.IdleNoWatch)
		fmt.Printf("| idle: `clocal watch` process | %.2f%% of one core, RSS %.1f MB (machine %.1f%% busy) |\n", res.IdleWatchCPU, float64(res.WatchIdleRSS)/1024, res.IdleWatch)
	}
	if len(res.NoopClocal) > 0 {
		m, s := meanSD(res.NoopClocal)
		fmt.Printf("| no-op `clocal up all` | %.3f s ± %.3f s |\n", m, s)
		if len(res.NoopCompose) > 0 {
			mc, sc := meanSD(res.NoopCompose)
			fmt.Printf("| no-op compose CLI `up -d --wait` | %.3f s ± %.3f s (ratio %.3f) |\n", mc, sc, m/mc)
		}
	}
	if !skip["edit"] {
		fmt.Printf("| shared edit → all %d serve it | %.1f s (%.2f × cold up) |\n", res.Services, res.Edit, res.Edit/res.ColdUp)
		fmt.Printf("| cycle outcomes | %v |\n", res.EditOutcomes)
		fmt.Printf("| `clocal watch` peak RSS | %.1f MB |\n", float64(res.WatchPeakRSS)/1024)
	}
	fmt.Printf("| load average | %v |\n", res.Load)
}

func meanSD(xs []float64) (float64, float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	m := sum / float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	if len(xs) > 1 {
		v /= float64(len(xs) - 1)
	}
	return m, math.Sqrt(v)
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	logf(format, args...)
	if ws != "" {
		cleanup()
	}
	os.Exit(1)
}
