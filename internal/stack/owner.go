package stack

import (
	"os"
	"strconv"

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

// ProcessStart returns when pid started, as the kernel says it (Linux: clock ticks since
// boot from /proc; macOS: the start time from sysctl kern.proc.pid; Windows: the creation
// time); "" when it cannot be read (then only the PID is compared) or the process does not
// exist.
func ProcessStart(pid int) string { return processStart(pid) }

// OwnerAlive reports whether the owner process a stack's labels name still runs on this
// machine: its PID exists and, when its start time was recorded and can be read, the
// process with that PID is the one that started then (not a later one that reused it).
func OwnerAlive(pid int, start string) bool {
	if pid <= 0 || !processExists(pid) {
		return false
	}
	if start == "" {
		return true
	}
	now := ProcessStart(pid)
	return now == "" || now == start
}
