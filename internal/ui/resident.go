package ui

import (
	"runtime/debug"
	"time"
)

// releaseAfter is how long after its first snapshot a page process gives memory back.
const releaseAfter = 5 * time.Second

// ReleaseStartupMemory gives back to the operating system what start-up used and an idle
// page does not: the heap's garbage (loading the workspace, the compose project) and, on
// Linux, the pages of clocal's own executable (code and read-only data) that the
// libraries' initialisation touched — most of a fresh process's resident memory. Pages that
// are needed again are read back from the executable on their next use. It returns the
// bytes of executable pages released (0 where that is not done).
func ReleaseStartupMemory() int64 {
	debug.FreeOSMemory()
	return releaseExecutablePages()
}
