//go:build !linux

package ui

func releaseExecutablePages() int64 { return 0 }
