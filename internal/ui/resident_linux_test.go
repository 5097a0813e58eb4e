//go:build linux

package ui

import (
	"encoding/json"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
)

// rssFile is this process's resident file-backed memory (kB).
func rssFile(t *testing.T) int64 {
	t.Helper()
	n := residentFileBytes()
	if n < 0 {
		t.Fatal("no RssFile in /proc/self/status")
	}
	return n >> 10
}

// TestReleaseStartupMemory: the executable's pages are given back (the resident size
// drops), and the process keeps running code and reading read-only data that was released.
func TestReleaseStartupMemory(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	readOnlyData, ok := releasable(exe)
	if !ok {
		t.Fatalf("%s: text relocations?", exe)
	}
	before := rssFile(t)
	gc := debug.SetGCPercent(100)
	released := ReleaseStartupMemory()
	after := rssFile(t)
	if got := debug.SetGCPercent(gc); os.Getenv("GOGC") == "" && got != idleGCPercent {
		t.Errorf("GC target after the release: %d%%, want %d%%", got, idleGCPercent)
	}
	t.Logf("released %d MB of mappings (read-only data too: %v); RssFile %d -> %d kB", released>>20, readOnlyData, before, after)
	if released == 0 || after >= before {
		t.Fatalf("released %d bytes; RssFile %d -> %d kB", released, before, after)
	}
	// Code, tables and strings come back from the file as they are used.
	out, err := json.Marshal(map[string]any{"re": regexp.MustCompile(`a(b+)c`).FindStringSubmatch("xabbbcx"), "n": 42})
	if err != nil || string(out) != `{"n":42,"re":["abbbc","bbb"]}` {
		t.Fatalf("after the release: %s, %v", out, err)
	}
}

// TestTrimmerReleasesWhatCameBack: after the start-up release, executable pages touched
// again (here: by code run for the first time since, a collection walking stacks) are
// released once they exceed the slack, and the resident size drops again.
func TestTrimmerReleasesWhatCameBack(t *testing.T) {
	ReleaseStartupMemory()
	tr := &trimmer{resident: residentFileBytes, release: releaseExecutablePages, slack: 256 << 10}
	tr.reset()
	base := tr.base
	// Bring pages back: reflection, JSON, regexps and a collection.
	for i := 0; i < 50; i++ {
		_, _ = json.Marshal(map[string]any{"re": regexp.MustCompile(`x(y+)z` + strconv.Itoa(i)).String(), "n": i})
	}
	runtime.GC()
	grown := residentFileBytes()
	if grown-base <= tr.slack {
		t.Fatalf("only %d kB came back (slack %d kB): the test brings back too little to show a trim", (grown-base)>>10, tr.slack>>10)
	}
	if !tr.check() {
		t.Fatalf("resident %d -> %d kB: no release", base>>10, grown>>10)
	}
	if tr.base >= grown {
		t.Fatalf("after the trim: %d kB resident, %d kB before it", tr.base>>10, grown>>10)
	}
	t.Logf("RssFile %d kB after start-up release, %d kB after use, %d kB after the trim", base>>10, grown>>10, tr.base>>10)
}
