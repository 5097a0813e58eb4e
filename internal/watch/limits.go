package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procInotify is where the kernel exposes the inotify limits (a variable for tests).
var procInotify = "/proc/sys/fs/inotify"

// Sysctl names of the inotify limits.
const (
	SysctlMaxWatches   = "fs.inotify.max_user_watches"
	SysctlMaxInstances = "fs.inotify.max_user_instances"
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
