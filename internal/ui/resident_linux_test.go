//go:build linux

package ui

import (
	"encoding/json"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// rssFile is this process's resident file-backed memory (kB), from /proc/self/status.
func rssFile(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
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
