package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// procKB reads a "Vm...: N kB" field of /proc/<pid>/status.
func procKB(pid int, field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

// TestChattyService: a service writing CHATTY_MB (100; 500 with CLOCAL_SOAK=1) of stdout.
// Its json-file logs stay within max-size x max-file (1 MB x 2 in the fixture), and
// `clocal logs -f` follows it to the end with its peak RSS (VmHWM) under 100 MB.
func TestChattyService(t *testing.T) {
	docker := testutil.RequireDocker(t)
	root := faultsWorkspace(t)
	mb := 100
	if soak() {
		mb = 500
	}
	if err := os.WriteFile(filepath.Join(root, "clocal.local.yaml"), []byte(fmt.Sprintf("env:\n  chatty: {CHATTY_MB: \"%d\"}\n", mb)), 0o644); err != nil {
		t.Fatal(err)
	}
	project := testProject(t)
	cleanupStack(t, docker, root, project)

	// logs -f first: it follows the container from its start.
	logs := exec.Command(clocalBinary(t), "-w", root, "-p", project, "logs", "-f", "--no-color", "chatty")
	logs.Env = append(os.Environ(), "NO_COLOR=1")
	stdout, err := logs.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logsErr testutil.SyncBuffer
	logs.Stderr = &logsErr
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logs.Process.Kill(); _ = logs.Wait() }()
	var received atomic.Int64
	done := make(chan string, 1)
	go func() {
		r := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := r.ReadSlice('\n')
			received.Add(int64(len(line)))
			if i := bytes.Index(line, []byte("CHATTY-DONE ")); i >= 0 {
				done <- strings.TrimSpace(string(line[i:]))
			}
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
	var peakSampled int
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if kb := procKB(logs.Process.Pid, "VmRSS"); kb > peakSampled {
				peakSampled = kb
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	r := runClocal(t, 8*time.Minute, nil, "-w", root, "-p", project, "up", "chatty", "--json")
	if r.Code != 0 {
		t.Fatalf("up chatty: exit %d\n%s", r.Code, r.Err)
	}
	ctrs := func() []string {
		var ids []string
		for _, c := range projectContainers(t, docker, project) {
			ids = append(ids, c.ID)
		}
		return ids
	}()
	if len(ctrs) != 1 {
		t.Fatalf("%d containers", len(ctrs))
	}
	// The service is done when its log (read without following) ends with the marker.
	waitFor(t, 15*time.Minute, "the service to write its last line", func() bool {
		r := runCLI(t, context.Background(), "-w", root, "-p", project, "logs", "--tail", "3", "chatty")
		return strings.Contains(r.Out, "CHATTY-DONE ")
	})
	took := time.Since(start)
	// Give the follower a bounded time to reach the end. dockerd 20.10's json-file follower
	// stalls when the file rotates faster than it is read (plain `docker logs -f` stalls the
	// same way, see docs/reliability.md), so reaching the marker is logged, not required.
	marker := ""
	select {
	case marker = <-done:
	case <-time.After(30 * time.Second):
	}
	hwm := procKB(logs.Process.Pid, "VmHWM")
	close(stopSampling)
	<-sampled

	files, total := logFiles(t, docker, ctrs[0])
	bound := int64(2 << 20) // max_size 1m x max_file 2 (testdata/faults/clocal.yaml)
	t.Logf("%d MB written in %s: logs -f received %d bytes (end marker %q), peak RSS %d kB (sampled %d kB); log files %d, %d bytes total (bound %d)",
		mb, took.Round(time.Second), received.Load(), marker, hwm, peakSampled, len(files), total, bound)
	if len(files) > 2 {
		t.Errorf("%d log files, want at most max_file=2: %v", len(files), files)
	}
	// A file may overshoot max-size by the one message that crossed it.
	if total > bound+64<<10 {
		t.Errorf("log files hold %d bytes, over max_size x max_file = %d", total, bound)
	}
	if hwm <= 0 || hwm > 100<<10 {
		t.Errorf("clocal logs -f peak RSS %d kB, want under 100 MB", hwm)
	}
	if received.Load() < 1<<20 {
		t.Errorf("logs -f received only %d bytes of %d MB", received.Load(), mb)
	}
	if logs.ProcessState != nil {
		t.Errorf("logs -f exited: %s", logsErr.String())
	}
}

// logFiles returns the container's json-file log files (current and rotated) and their size.
func logFiles(t *testing.T, docker *client.Client, id string) ([]string, int64) {
	t.Helper()
	in, err := docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.LogPath == "" {
		t.Fatal("container has no LogPath (not json-file?)")
	}
	if in.HostConfig.LogConfig.Type != "json-file" || in.HostConfig.LogConfig.Config["max-size"] != "1m" || in.HostConfig.LogConfig.Config["max-file"] != "2" {
		t.Errorf("log config %+v, want json-file 1m x 2", in.HostConfig.LogConfig)
	}
	files, _ := filepath.Glob(in.LogPath + "*")
	var total int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("stat %s: %v (the test needs to read /var/lib/docker: run as root)", f, err)
		}
		total += st.Size()
	}
	if len(files) == 0 {
		t.Fatalf("no log file at %s", in.LogPath)
	}
	return files, total
}

// zombies counts the container's processes and those in state Z, from the host's /proc: the
// descendants of the container's main process. (docker top cannot show zombies: it lists
// the cgroup's tasks, and an exited task leaves its cgroup before it is reaped.)
func zombies(t *testing.T, docker *client.Client, id string) (all, z int) {
	t.Helper()
	in, err := docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.State == nil || in.State.Pid == 0 {
		t.Fatalf("container %s is not running", id[:12])
	}
	procs := map[int]procStat{}
	for _, p := range hostProcs() {
		procs[p.pid] = p
	}
	in2 := map[int]bool{in.State.Pid: true}
	for changed := true; changed; {
		changed = false
		for pid, p := range procs {
			if !in2[pid] && in2[p.ppid] {
				in2[pid], changed = true, true
			}
		}
	}
	for pid := range in2 {
		all++
		if procs[pid].state == "Z" {
			z++
		}
	}
	return all, z
}

// containerLogs returns what a container wrote so far.
func containerLogs(docker *client.Client, id string) string {
	rc, err := docker.ContainerLogs(context.Background(), id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return ""
	}
	defer rc.Close()
	data, _ := io.ReadAll(rc)
	return string(data)
}

// TestZombieReaping: a service whose process abandons children (orphaned grandchildren that
// exit) shows no zombie in its container thanks to init: true. Counter-case: the same image
// run without init keeps them as zombies, so the check can fail.
func TestZombieReaping(t *testing.T) {
	docker := testutil.RequireDocker(t)
	root := faultsWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	r := runClocal(t, 8*time.Minute, nil, "-w", root, "-p", project, "up", "zombie", "--json")
	if r.Code != 0 {
		t.Fatalf("up zombie: exit %d\n%s", r.Code, r.Err)
	}
	var up upJSON
	if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
		t.Fatalf("%v\n%s", err, r.Out)
	}
	img := up.Services["zombie"].Image
	ctrs := projectContainers(t, docker, project)
	if len(ctrs) != 1 {
		t.Fatalf("%d containers", len(ctrs))
	}
	id := ctrs[0].ID
	waitFor(t, 2*time.Minute, "the service to spawn its children", func() bool {
		return strings.Contains(containerLogs(docker, id), "ZOMBIE-SPAWNED 10")
	})
	time.Sleep(2 * time.Second) // the last grandchild sleeps 300 ms, then exits
	all, z := zombies(t, docker, id)
	t.Logf("with init: %d processes, %d zombies", all, z)
	if z != 0 {
		t.Errorf("%d zombie processes in the container with init: true", z)
	}
	in, err := docker.ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if in.HostConfig.Init == nil || !*in.HostConfig.Init {
		t.Errorf("container runs without init")
	}

	// Counter-case: the same image, no init.
	ctx := context.Background()
	no := false
	created, err := docker.ContainerCreate(ctx, &container.Config{Image: img, Env: []string{"MODE=zombie", "ZOMBIE_ROUNDS=10"},
		Labels: map[string]string{labels.ComposeProject: project}},
		&container.HostConfig{Init: &no, AutoRemove: false}, nil, nil, project+"-noinit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = docker.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	})
	if err := docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the no-init container to spawn its children", func() bool {
		return strings.Contains(containerLogs(docker, created.ID), "ZOMBIE-SPAWNED 10")
	})
	time.Sleep(2 * time.Second)
	all, z = zombies(t, docker, created.ID)
	t.Logf("without init: %d processes, %d zombies", all, z)
	if z == 0 {
		t.Errorf("without init no zombie appeared: the fixture does not make zombies, the check above proves nothing")
	}
}
