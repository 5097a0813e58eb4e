//go:build !linux

package ui

func releaseExecutablePages() int64 { return 0 }

// residentFileBytes is unknown here: nothing is trimmed.
func residentFileBytes() int64 { return -1 }
