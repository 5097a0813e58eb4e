package stack

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/clocal-dev/clocal/internal/labels"
)

// OwnerLabels names the current process as the owner of a stack (labels.OwnerPID,
// OwnerHost, OwnerStart), so that `clocal prune --stale` finds the leftovers of a killed run.
func OwnerLabels() map[string]string {
	host, _ := os.Hostname()
	l := map[string]string{labels.OwnerPID: strconv.Itoa(os.Getpid()), labels.OwnerHost: host}
	if start := ProcessStart(os.Getpid()); start != "" {
		l[labels.OwnerStart] = start
	}
	return l
}

// ProcessStart returns when pid started, in the kernel's clock ticks since boot; "" where
// there is no /proc (then only the PID is compared) or the process does not exist.
func ProcessStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces and ')': the fields
	// that follow start after the last ')'. Field 3 is the first of them, field 22 the 20th.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// OwnerAlive reports whether the owner process a stack's labels name still runs on this
// machine: its PID exists and, when its start time was recorded and can be read, the
// process with that PID is the one that started then (not a later one that reused it).
func OwnerAlive(pid int, start string) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if err := p.Signal(syscall.Signal(0)); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if start == "" {
		return true
	}
	now := ProcessStart(pid)
	return now == "" || now == start
}
