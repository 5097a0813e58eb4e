//go:build unix

package watch

import "syscall"

// OpenFilesLimit is this process's open files limit (RLIMIT_NOFILE), -1 when unknown. On
// macOS the watcher (kqueue) holds one open file per watched file and folder.
func OpenFilesLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return -1
	}
	return int(r.Cur)
}
