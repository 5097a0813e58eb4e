package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPickRange: ports clocal picks lie outside the kernel's ephemeral range (where
// outgoing connections and the daemon's own choices take ports), above it when there is
// room, else below; the kernel picks where the range is unknown or leaves no room.
func TestPickRange(t *testing.T) {
	defer func(f string) { ephemeralRangeFile = f }(ephemeralRangeFile)
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		lo, hi  int
	}{
		{"32768\t60999\n", 61000, 65535},
		{"32768 65535\n", 10000, 32767},
		{"1024 65535\n", 0, 0},
		{"15000 65000\n", 10000, 14999},
		{"11000 65000\n", 0, 0},
		{"garbage\n", 0, 0},
		{"", 0, 0},
	} {
		path := filepath.Join(dir, "range")
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		ephemeralRangeFile = path
		if lo, hi := pickRange(); lo != tc.lo || hi != tc.hi {
			t.Errorf("range file %q: pick in [%d, %d], want [%d, %d]", tc.content, lo, hi, tc.lo, tc.hi)
		}
	}
	ephemeralRangeFile = filepath.Join(dir, "missing")
	if lo, hi := pickRange(); lo != 0 || hi != 0 {
		t.Errorf("no range file: [%d, %d], want the kernel to pick", lo, hi)
	}
}

// TestFreePortOutsideEphemeralRange: on this machine's real range, picked ports are free,
// outside the ephemeral range and not one sequence.
func TestFreePortOutsideEphemeralRange(t *testing.T) {
	lo, hi := pickRange()
	seen := map[int]bool{}
	for range 20 {
		p, err := freePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if lo > 0 && (p < lo || p > hi) {
			t.Errorf("picked %d, want within [%d, %d]", p, lo, hi)
		}
		if !bindable("127.0.0.1", p) {
			t.Errorf("picked %d is not free", p)
		}
		seen[p] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 picks gave %d distinct ports", len(seen))
	}
	// A fallback where the range is unknown: the kernel's port.
	defer func(f string) { ephemeralRangeFile = f }(ephemeralRangeFile)
	ephemeralRangeFile = filepath.Join(t.TempDir(), "missing")
	if p, err := freePort("127.0.0.1"); err != nil || p == 0 {
		t.Errorf("kernel pick: %d, %v", p, err)
	}
}
