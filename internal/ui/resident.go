package ui

import (
	"context"
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

// trimInterval is how often a page-only process looks at how much of its executable is
// resident again (and trimAfterSnapshot how soon after a snapshot it looks), and trimSlack
// how much that may have grown since the last release before it is released once more. A
// snapshot of the stack (after container events) and the runtime's collections read type
// descriptors, the function tables the collector walks stacks with, and the code of the
// Docker client: 3 to 15 MB of the executable, through the kernel's 64 KB fault-around, that
// an idle page would otherwise keep until the process ends.
const (
	trimInterval      = 10 * time.Second
	trimAfterSnapshot = 2 * time.Second
	trimSlack         = 4 << 20
)

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

// trimmer releases the executable's pages again once more than slack of them became
// resident since the last release: clean pages the kernel reads back from the page cache
// when they are next used (a few hundred page faults, well under a millisecond per burst).
type trimmer struct {
	resident func() int64 // resident file-backed bytes of the process (-1: unknown)
	release  func() int64 // releases the executable's pages; bytes released
	slack    int64
	base     int64 // resident bytes after the last release
}

// reset records the resident size right after a release.
func (t *trimmer) reset() { t.base = t.resident() }

// check releases the pages if they grew by more than slack; it says whether it did.
func (t *trimmer) check() bool {
	now := t.resident()
	if now < 0 || t.base < 0 || now-t.base <= t.slack {
		return false
	}
	t.release()
	t.reset()
	return true
}

// keepLight runs for a page-only process until ctx ends: releaseAfter after start-up it
// gives back start-up's memory, then it trims the executable's pages that later snapshots
// (each one signalled on refreshed) and collections brought back: trimAfterSnapshot after a
// snapshot, and every trimInterval.
func keepLight(ctx context.Context, refreshed <-chan struct{}) {
	wait := time.NewTimer(releaseAfter)
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return
	case <-wait.C:
	}
	ReleaseStartupMemory()
	t := &trimmer{resident: residentFileBytes, release: releaseExecutablePages, slack: trimSlack}
	if t.reset(); t.base < 0 {
		return // the resident size cannot be read here: nothing to trim by
	}
	tick := time.NewTicker(trimInterval)
	defer tick.Stop()
	var soon <-chan time.Time // after a snapshot
	for {
		select {
		case <-ctx.Done():
			return
		case <-refreshed:
			if soon == nil {
				soon = time.After(trimAfterSnapshot)
			}
			continue
		case <-soon:
			soon = nil
		case <-tick.C:
		}
		t.check()
	}
}
