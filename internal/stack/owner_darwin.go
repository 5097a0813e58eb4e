package stack

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// processStart asks the kernel (sysctl kern.proc.pid.PID) when the process started: macOS
// has no /proc.
func processStart(pid int) string {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil || kp.Proc.P_pid != int32(pid) {
		return ""
	}
	t := kp.Proc.P_starttime
	return fmt.Sprintf("%d.%06d", t.Sec, t.Usec)
}
