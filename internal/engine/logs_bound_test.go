package engine

import (
	"bytes"
	"strings"
	"testing"
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
