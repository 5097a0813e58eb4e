package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// procInotify is where the kernel exposes the inotify limits (a variable for tests).
var procInotify = "/proc/sys/fs/inotify"

// The platform facts the limit messages depend on (variables for tests: the macOS message
// is tested on Linux).
var (
	goos           = runtime.GOOS   // whose watcher: inotify (linux), kqueue (darwin), ...
	openFilesLimit = OpenFilesLimit // this process's open files limit
)

// Sysctl names of the inotify limits, and of macOS's per-process open files ceiling.
const (
	SysctlMaxWatches      = "fs.inotify.max_user_watches"
	SysctlMaxInstances    = "fs.inotify.max_user_instances"
	SysctlMaxFilesPerProc = "kern.maxfilesperproc"
)

// LimitError reports that an inotify limit was reached. Its message is one line that
// says which setting, its current value and how to raise it.
type LimitError struct {
	Sysctl    string // SysctlMaxWatches or SysctlMaxInstances (macOS: SysctlMaxFilesPerProc)
	Current   int    // current value; -1 when it could not be read
	Suggested int    // value to set
	Err       error  // underlying error (ENOSPC or EMFILE)
	// Fix, when set, is the platform's own advice (macOS: the open files limit).
	Fix string
}

func (e *LimitError) Error() string {
	if e.Fix != "" {
		return e.Fix
	}
	what := "watch limit reached"
	if e.Sysctl == SysctlMaxInstances {
		what = "watch instance limit reached"
	}
	cur := "?"
	if e.Current >= 0 {
		cur = strconv.Itoa(e.Current)
	}
	return fmt.Sprintf("%s (%s=%s): run: sudo sysctl %s=%d", what, e.Sysctl, cur, e.Sysctl, e.Suggested)
}

func (e *LimitError) Unwrap() error { return e.Err }

// limitError translates ENOSPC (max_user_watches) and EMFILE (max_user_instances) into
// a *LimitError; it returns nil for any other error.
func limitError(err error) *LimitError {
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	if le := openFilesLimitError(err); le != nil {
		return le
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		cur := readLimit("max_user_watches")
		return &LimitError{Sysctl: SysctlMaxWatches, Current: cur, Suggested: suggest(cur, 524288), Err: err}
	case errors.Is(err, syscall.EMFILE):
		cur := readLimit("max_user_instances")
		return &LimitError{Sysctl: SysctlMaxInstances, Current: cur, Suggested: suggest(cur, 1024), Err: err}
	}
	return nil
}

// openFilesLimitError: on macOS the watcher is kqueue, which holds one open file per
// watched file and folder, so a large tree runs into the open files limit (EMFILE/ENFILE),
// not an inotify setting. The message says what to raise (and how to watch less).
// Elsewhere nil: inotify's limits are sysctls (below); Windows has none.
func openFilesLimitError(err error) *LimitError {
	if goos != "darwin" || !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
		return nil
	}
	cur := openFilesLimit()
	sug := SuggestOpenFiles(cur)
	limit := "unknown"
	if cur >= 0 {
		limit = strconv.Itoa(cur)
	}
	return &LimitError{Sysctl: SysctlMaxFilesPerProc, Current: cur, Suggested: sug, Err: err,
		Fix: fmt.Sprintf("watch limit reached: macOS watches every file with an open file (open files limit %s): raise it with %s, or watch fewer files (watch.ignore in service.yaml)", limit, RaiseOpenFiles(sug))}
}

// SuggestOpenFiles is the open files limit to raise cur to (macOS): twice cur, at least
// 65536.
func SuggestOpenFiles(cur int) int { return suggest(cur, 65536) }

// RaiseOpenFiles is how to raise the open files limit to n on macOS (doctor says the same).
func RaiseOpenFiles(n int) string {
	return fmt.Sprintf("sudo launchctl limit maxfiles %d %d and ulimit -n %d in this shell", n, 2*n, n)
}

func suggest(cur, floor int) int {
	if cur*2 > floor {
		return cur * 2
	}
	return floor
}

func readLimit(name string) int {
	b, err := os.ReadFile(filepath.Join(procInotify, name))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// InotifyLimits returns fs.inotify.max_user_watches and fs.inotify.max_user_instances
// (Linux only; an error elsewhere).
func InotifyLimits() (watches, instances int, err error) {
	if watches = readLimit("max_user_watches"); watches < 0 {
		return 0, 0, fmt.Errorf("read %s: not available (is this Linux?)", SysctlMaxWatches)
	}
	if instances = readLimit("max_user_instances"); instances < 0 {
		return 0, 0, fmt.Errorf("read %s: not available (is this Linux?)", SysctlMaxInstances)
	}
	return watches, instances, nil
}
