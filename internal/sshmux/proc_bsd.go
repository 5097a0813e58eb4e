//go:build unix && !linux

package sshmux

import "syscall"

// ownedAttr puts an owned master in its own process group (Exit stops it).
func ownedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
