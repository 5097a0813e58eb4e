//go:build unix

package stack

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an flock without blocking; errLocked when another process holds it.
func lockFile(f *os.File, mode fileLockMode) error {
	how := syscall.LOCK_EX
	if mode == fileLockShared {
		how = syscall.LOCK_SH
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) {
		return errLocked
	}
	return err
}

func unlockFile(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
