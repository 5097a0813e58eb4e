package engine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

// TestLineWriterBounded: output without newlines is emitted in maxLogLine pieces, never
// buffered whole (a chatty service writing hundreds of MB in one "line").
func TestLineWriterBounded(t *testing.T) {
	var lines []string
	w := &lineWriter{emit: func(s string) { lines = append(lines, s) }}
	chunk := bytes.Repeat([]byte("x"), 4096)
	for i := 0; i < 1000; i++ { // 4 MB, no newline
		_, _ = w.Write(chunk)
		if len(w.buf) >= maxLogLine {
			t.Fatalf("buffer holds %d bytes", len(w.buf))
		}
	}
	_, _ = w.Write([]byte("end\nshort\r\n" + strings.Repeat("y", 3*maxLogLine+5) + "\nlast"))
	w.Flush()
	total := 0
	for _, l := range lines {
		if len(l) > maxLogLine {
			t.Fatalf("line of %d bytes", len(l))
		}
		total += len(l)
	}
	if want := 4096*1000 + 3 + 5 + 3*maxLogLine + 5 + 4; total != want {
		t.Errorf("emitted %d bytes, want %d", total, want)
	}
	if lines[len(lines)-1] != "last" {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	found := false
	for _, l := range lines {
		if l == "short" {
			found = true
		}
	}
	if !found {
		t.Errorf("the short line was not emitted on its own")
	}
}

// TestRunSince: a re-attached follow asks for the logs after the previous run finished,
// not after StartedAt, which the daemon records only once the process already runs (the
// first lines of a fast process are older than it: seen as a flaky follow in CI).
func TestRunSince(t *testing.T) {
	const zero = "0001-01-01T00:00:00Z"
	cases := []struct {
		name string
		st   *container.State
		want string
	}{
		{"no state", nil, ""},
		{"first run, running", &container.State{Running: true, StartedAt: "2026-11-29T05:00:01.5Z", FinishedAt: zero}, ""},
		{"first run, already exited", &container.State{StartedAt: "2026-11-29T05:00:01Z", FinishedAt: "2026-11-29T05:00:02Z"}, "1795928401.000000000"},
		{"restarted, running", &container.State{Running: true, StartedAt: "2026-11-29T05:00:05Z", FinishedAt: "2026-11-29T05:00:02.25Z"}, "1795928402.250000000"},
		{"restarted, exited again", &container.State{StartedAt: "2026-11-29T05:00:05Z", FinishedAt: "2026-11-29T05:00:06Z"}, "1795928405.000000000"},
		{"unparsable start", &container.State{Running: true, StartedAt: "", FinishedAt: "2026-11-29T05:00:02Z"}, "1795928402.000000000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := runSince(c.st); got != c.want {
				t.Errorf("runSince = %q, want %q", got, c.want)
			}
		})
	}
}
