package sshmux

import (
	"os"
	"syscall"
)

func detachedAttr() *syscall.SysProcAttr { return nil }
func ownedAttr() *syscall.SysProcAttr    { return nil }

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func killGroup(pid int) { killPID(pid) }
