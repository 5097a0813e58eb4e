package stack_test

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
)

// TestOwnerAlive runs a real child process as a stack's owner: alive while it runs with the
// recorded start time, "gone" when the PID is held by a process with another start time
// (PID reuse after the owner was killed), and gone once it was killed and reaped.
func TestOwnerAlive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("start times come from /proc")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start := stack.ProcessStart(pid)
	if start == "" {
		t.Fatalf("no start time for running pid %d", pid)
	}
	if _, err := strconv.ParseUint(start, 10, 64); err != nil {
		t.Fatalf("start time %q: %v", start, err)
	}
	if !stack.OwnerAlive(pid, start) || !stack.OwnerAlive(pid, "") {
		t.Error("running owner reported gone")
	}
	if stack.OwnerAlive(pid, start+"1") {
		t.Error("a process with another start time under the owner's PID counted as the owner")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if stack.OwnerAlive(pid, start) || stack.OwnerAlive(pid, "") {
		t.Error("killed owner reported alive")
	}
	if stack.OwnerAlive(0, "") || stack.OwnerAlive(-1, "") {
		t.Error("pid <= 0 alive")
	}

	l := stack.OwnerLabels()
	host, _ := os.Hostname()
	if l[labels.OwnerPID] != strconv.Itoa(os.Getpid()) || l[labels.OwnerHost] != host || l[labels.OwnerStart] != stack.ProcessStart(os.Getpid()) || l[labels.OwnerStart] == "" {
		t.Errorf("OwnerLabels = %v", l)
	}
}

// TestProcessStartOddNames: the command name may contain spaces and parentheses; the start
// time is read after the last ')'.
func TestProcessStartOddNames(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("start times come from /proc")
	}
	dir := t.TempDir()
	odd := dir + "/a b) (c"
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if data, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"); !strings.Contains(string(data), "(a b) (c)") {
		t.Fatalf("stat does not show the odd name: %s", data)
	}
	child := mustUint(t, stack.ProcessStart(cmd.Process.Pid))
	if self := mustUint(t, stack.ProcessStart(os.Getpid())); child == 0 || child < self {
		t.Errorf("child start %d, this process %d: the child cannot have started first", child, self)
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
