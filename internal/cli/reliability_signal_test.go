package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// slowBuild makes kvstore's build.sh in a workspace copy wait while the flag file exists
// (a loop of sleeps), writing its pid — the leader of its process group — next to the flag.
func slowBuild(t *testing.T, root string) (flag string) {
	flag = filepath.Join(t.TempDir(), "slow")
	editFile(t, filepath.Join(root, "services", "kvstore", "build.sh"), "set -eu\n",
		"set -eu\nif [ -n \"${CLOCAL_SLOW_FLAG:-}\" ] && [ -f \"$CLOCAL_SLOW_FLAG\" ]; then\n"+
			"  echo $$ > \"$CLOCAL_SLOW_FLAG.pid\"\n  echo SLOW-BUILD-START\n"+
			"  while [ -f \"$CLOCAL_SLOW_FLAG\" ]; do sleep 1; done\nfi\n")
	return flag
}

// procStat is one process of the host, as /proc/PID/stat shows it.
type procStat struct {
	pid, ppid, pgrp int
	state           string // R, S, Z, ...
}

// hostProcs reads /proc/*/stat (the tests run on the daemon's host). The fields are
// "pid (comm) state ppid pgrp ..."; comm may hold spaces, so they are split after the last ')'.
func hostProcs() []procStat {
	var out []procStat
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, procStat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0]})
	}
	return out
}

// groupAlive reports whether any process of process group pgid is left (zombies aside).
func groupAlive(pgid int) bool {
	for _, p := range hostProcs() {
		if p.state != "Z" && p.pgrp == pgid {
			return true
		}
	}
	return false
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

var signals = []struct {
	name string
	sig  syscall.Signal
}{{"SIGINT", syscall.SIGINT}, {"SIGTERM", syscall.SIGTERM}}

// TestInterruptMidBuild: SIGINT/SIGTERM while build.sh runs → exit 130, build.sh's process
// group is gone, no container exists, and a following up converges.
func TestInterruptMidBuild(t *testing.T) {
	docker := testutil.RequireDocker(t)
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			root := testutil.CopyWorkspace(t)
			flag := slowBuild(t, root)
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			project := testProject(t)
			cleanupStack(t, docker, root, project)
			env := []string{"CLOCAL_SLOW_FLAG=" + flag}
			p := startClocal(t, env, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
			p.waitOutput("SLOW-BUILD-START", 5*time.Minute)
			buildPid := readPid(t, flag+".pid")
			if !groupAlive(buildPid) {
				t.Fatalf("build.sh's process group %d not found before the signal", buildPid)
			}
			_ = p.cmd.Process.Signal(s.sig)
			r := p.wait(time.Minute)
			if r.Code != ExitInterrupted {
				t.Fatalf("exit %d after %s mid-build, want 130\n%s", r.Code, s.name, r.Err)
			}
			if !strings.Contains(r.Err, "interrupted") {
				t.Errorf("stderr does not say interrupted:\n%s", r.Err)
			}
			waitFor(t, 15*time.Second, "build.sh's process group to be killed", func() bool { return !groupAlive(buildPid) })
			if c := projectContainers(t, docker, project); len(c) != 0 {
				t.Errorf("interrupted build left %d containers: %v", len(c), containerStates(t, docker, project))
			}
			// A following up converges.
			_ = os.Remove(flag)
			r = runClocal(t, 8*time.Minute, env, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
			if r.Code != 0 {
				t.Fatalf("up after interrupt: exit %d\n%s", r.Code, r.Err)
			}
			if st := containerStates(t, docker, project); len(st) != 1 || strings.Join(st["kvstore"], ",") != "running" {
				t.Errorf("after the following up: %v, want kvstore=[running]", st)
			}
		})
	}
}

// TestInterruptMidStart: SIGINT/SIGTERM while up waits for a healthcheck that never passes
// (kvstore) with its dependents created but not started → exit 130, no container left in
// "created" state; down converges; a fixed up converges to one healthy container per service.
func TestInterruptMidStart(t *testing.T) {
	docker := testutil.RequireDocker(t)
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			root := testutil.CopyWorkspace(t)
			svcFile := filepath.Join(root, "services", "kvstore", "service.yaml")
			orig, err := os.ReadFile(svcFile)
			if err != nil {
				t.Fatal(err)
			}
			editFile(t, svcFile, "-healthcheck], interval: 1s, timeout: 10s, retries: 60",
				"-no-such-flag], interval: 1s, timeout: 10s, retries: 1000")
			project := testProject(t)
			cleanupStack(t, docker, root, project)
			p := startClocal(t, nil, "-w", root, "-p", project, "up", "repo-manager", "--ephemeral-ports")
			waitFor(t, 8*time.Minute, "kvstore running with its dependents created", func() bool {
				st := containerStates(t, docker, project)
				return strings.Join(st["kvstore"], ",") == "running" && len(st["repo-manager"]) == 1
			})
			before := containerStates(t, docker, project)
			_ = p.cmd.Process.Signal(s.sig)
			r := p.wait(time.Minute)
			if r.Code != ExitInterrupted {
				t.Fatalf("exit %d after %s mid-start, want 130\n%s", r.Code, s.name, r.Err)
			}
			after := containerStates(t, docker, project)
			t.Logf("containers before the signal %v, after exit %v", before, after)
			for svc, states := range after {
				for _, st := range states {
					if st == "created" {
						t.Errorf("interrupted up left %s in state created", svc)
					}
				}
			}
			r = runClocal(t, 2*time.Minute, nil, "-w", root, "-p", project, "down")
			if r.Code != 0 {
				t.Fatalf("down after interrupt: exit %d\n%s", r.Code, r.Err)
			}
			if c := projectContainers(t, docker, project); len(c) != 0 {
				t.Errorf("down after interrupt left %d containers", len(c))
			}
			if err := os.WriteFile(svcFile, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			r = runClocal(t, 8*time.Minute, nil, "-w", root, "-p", project, "up", "repo-manager", "--ephemeral-ports")
			if r.Code != 0 {
				t.Fatalf("up after interrupt: exit %d\n%s", r.Code, r.Err)
			}
			st := containerStates(t, docker, project)
			for _, svc := range []string{"kvstore", "markdown-renderer", "repo-manager"} {
				if strings.Join(st[svc], ",") != "running" {
					t.Errorf("after the following up %s = %v, want one running container", svc, st[svc])
				}
			}
		})
	}
}

// TestInterruptWatchRebuild: SIGINT/SIGTERM while `up --watch` rebuilds after a source
// change → exit 130, build.sh killed, the previous container still serving, nothing created.
func TestInterruptWatchRebuild(t *testing.T) {
	docker := testutil.RequireDocker(t)
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			root := testutil.CopyWorkspace(t)
			flag := slowBuild(t, root)
			project := testProject(t)
			cleanupStack(t, docker, root, project)
			env := []string{"CLOCAL_SLOW_FLAG=" + flag}
			p := startClocal(t, env, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports", "--watch")
			p.waitOutput("watching", 8*time.Minute)
			before := projectContainers(t, docker, project)
			if len(before) != 1 {
				t.Fatalf("containers after up: %d", len(before))
			}
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(root, "apps", "kvstore", "rebuild_trigger.go")
			if err := os.WriteFile(src, []byte("package main\n\nconst rebuildTrigger = 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p.waitOutput("SLOW-BUILD-START", 2*time.Minute)
			buildPid := readPid(t, flag+".pid")
			if !groupAlive(buildPid) {
				t.Fatalf("build.sh's process group %d not found before the signal", buildPid)
			}
			_ = p.cmd.Process.Signal(s.sig)
			r := p.wait(time.Minute)
			if r.Code != ExitInterrupted {
				t.Fatalf("exit %d after %s during a watch rebuild, want 130\n%s", r.Code, s.name, r.Err)
			}
			waitFor(t, 15*time.Second, "build.sh's process group to be killed", func() bool { return !groupAlive(buildPid) })
			after := projectContainers(t, docker, project)
			if len(after) != 1 || after[0].ID != before[0].ID || after[0].State != "running" {
				t.Errorf("after the interrupted rebuild: %d containers %v; want the previous one (%s) still running", len(after), containerStates(t, docker, project), before[0].ID[:12])
			}
			r = runClocal(t, 2*time.Minute, nil, "-w", root, "-p", project, "down")
			if r.Code != 0 || len(projectContainers(t, docker, project)) != 0 {
				t.Errorf("down after the interrupted watch: exit %d, %v", r.Code, containerStates(t, docker, project))
			}
		})
	}
}

// TestSecondInterruptForcesExit: a build.sh that ignores SIGTERM (and the SIGHUP of its
// terminal closing) keeps the first Ctrl-C's clean-up waiting (its grace period); a second
// Ctrl-C exits at once with 130, says so, and kills build.sh's process group instead of
// leaving it behind (shown to fail once with build.KillRunning disabled).
func TestSecondInterruptForcesExit(t *testing.T) {
	testutil.RequireDocker(t)
	root := testutil.CopyWorkspace(t)
	flag := filepath.Join(t.TempDir(), "stubborn")
	editFile(t, filepath.Join(root, "services", "kvstore", "build.sh"), "set -eu\n",
		"set -eu\nif [ -n \"${CLOCAL_SLOW_FLAG:-}\" ] && [ -f \"$CLOCAL_SLOW_FLAG\" ]; then\n"+
			"  trap '' TERM HUP\n  echo $$ > \"$CLOCAL_SLOW_FLAG.pid\"\n  echo STUBBORN-BUILD-START\n"+
			"  while [ -f \"$CLOCAL_SLOW_FLAG\" ]; do sleep 1; done\nfi\n")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(flag) }) // ends a script this test failed to kill
	p := startClocal(t, []string{"CLOCAL_SLOW_FLAG=" + flag}, "-w", root, "-p", testProject(t), "up", "kvstore", "--ephemeral-ports")
	p.waitOutput("STUBBORN-BUILD-START", 5*time.Minute)
	buildPid := readPid(t, flag+".pid")
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	// Signals do not queue: the second is sent once clocal has taken the first.
	p.waitOutput("press Ctrl-C again to force", time.Minute)
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	r := p.wait(time.Minute)
	if r.Code != ExitInterrupted || !strings.Contains(r.Err, "forced exit") {
		t.Fatalf("exit %d after two interrupts, want 130 and a forced exit line\n%s", r.Code, r.Err)
	}
	waitFor(t, 15*time.Second, "the stubborn build.sh's process group to be killed", func() bool { return !groupAlive(buildPid) })
}
