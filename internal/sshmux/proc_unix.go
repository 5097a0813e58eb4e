//go:build unix

package sshmux

import "syscall"

// detachedAttr starts a detached master's foreground process in its own session.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// alive reports whether a process exists.
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// killPID ends a process at once.
func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// killGroup ends a process started with ownedAttr and everything in its process group (an
// ssh master's ProxyCommand would otherwise outlive it).
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
