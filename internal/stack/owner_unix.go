//go:build unix

package stack

import (
	"errors"
	"os"
	"syscall"
)

// processExists reports whether a process with this PID runs (signal 0: permission
// denied means it exists, owned by someone else).
func processExists(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
