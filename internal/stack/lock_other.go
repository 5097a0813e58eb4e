//go:build !unix && !windows

package stack

import "os"

// lockFile: no file locks on this platform; clocal processes are not ordered.
func lockFile(*os.File, fileLockMode) error { return nil }

func unlockFile(*os.File) {}
