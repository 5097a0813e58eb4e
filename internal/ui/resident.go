package ui

import (
	"os"
	"runtime/debug"
	"time"
)

// releaseAfter is how long after its first snapshot a page process gives memory back.
const releaseAfter = 5 * time.Second

// idleGCPercent is the garbage collector's target of a page-only process once started: a
// collection runs when the heap has grown by half of what is live (Go's default: by all of
// it). An idle page keeps about 4 MB live, so its heap tops out near 6 MB instead of 8 MB;
// a collection of so small a heap costs about a millisecond of CPU.
const idleGCPercent = 50

// ReleaseStartupMemory gives back to the operating system what start-up used and an idle
// page does not: the heap's garbage (loading the workspace, the compose project) and, on
// Linux, the pages of clocal's own executable (code and read-only data) that the
// libraries' initialisation touched — most of a fresh process's resident memory. Pages that
// are needed again are read back from the executable on their next use. From then on the
// heap is collected at idleGCPercent (unless GOGC says otherwise). It returns the bytes of
// executable pages released (0 where that is not done).
func ReleaseStartupMemory() int64 {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(idleGCPercent)
	}
	debug.FreeOSMemory()
	return releaseExecutablePages()
}
