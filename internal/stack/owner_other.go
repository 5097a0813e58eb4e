//go:build !linux && !darwin && !windows

package stack

// processStart: no portable way to read a process's start time here; owners are then
// compared by PID only.
func processStart(int) string { return "" }
