package stack

import (
	"os"
	"strconv"
	"strings"
)

// processStart reads field 22 of /proc/PID/stat (clock ticks since boot).
func processStart(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces and ')': the fields
	// that follow start after the last ')'. Field 3 is the first of them, field 22 the 20th.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}
