package sshmux

import "syscall"

// ownedAttr puts an owned master in its own process group (a Ctrl-C in the terminal is
// clocal's to handle: the master must outlive it until clocal has cleaned up) and kills it
// if clocal dies without stopping it.
func ownedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
