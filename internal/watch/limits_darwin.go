package watch

import (
	"errors"
	"fmt"
	"syscall"
)

// SysctlMaxFilesPerProc is macOS's per-process open files ceiling.
const SysctlMaxFilesPerProc = "kern.maxfilesperproc"

// openFilesLimitError: on macOS the watcher is kqueue, which holds one open file per
// watched file and folder, so a large tree runs into the open files limit (EMFILE/ENFILE),
// not an inotify setting. The message says what to raise (and how to watch less).
func openFilesLimitError(err error) *LimitError {
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
		return nil
	}
	cur := OpenFilesLimit()
	sug := suggest(cur, 65536)
	return &LimitError{Sysctl: SysctlMaxFilesPerProc, Current: cur, Suggested: sug, Err: err,
		Fix: fmt.Sprintf("watch limit reached: macOS watches every file with an open file (open files limit %d): raise it with sudo launchctl limit maxfiles %d %d and ulimit -n %d in this shell, or watch fewer files (watch.ignore in service.yaml)", cur, sug, sug*2, sug)}
}

// OpenFilesLimit is this process's open files limit (RLIMIT_NOFILE), -1 when unknown.
func OpenFilesLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return -1
	}
	return int(r.Cur)
}
