//go:build unix

package doctor

import "syscall"

// openFilesLimit is this process's open files limit (RLIMIT_NOFILE), -1 when unknown.
func openFilesLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return -1
	}
	return int(r.Cur)
}
