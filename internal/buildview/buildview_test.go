package buildview

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/build"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestView(out *bytes.Buffer) (*View, *clock) {
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	v := New(out, 80)
	v.now, v.tick = c.now, 0 // no redraw goroutine: the test draws
	return v, c
}

var escape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// screen replays the view's output on a tiny terminal model (cursor up, erase line,
// carriage return, newline) and returns the visible lines.
func screen(out string) []string {
	var lines []string
	row := 0
	for len(out) > 0 {
		if loc := escape.FindStringIndex(out); loc != nil && loc[0] == 0 {
			seq := out[:loc[1]]
			out = out[loc[1]:]
			if strings.HasSuffix(seq, "A") {
				var n int
				fmt.Sscanf(seq, "\x1b[%dA", &n)
				row -= n
			}
			if strings.HasSuffix(seq, "K") && row < len(lines) {
				lines[row] = ""
			}
			continue
		}
		c := out[0]
		out = out[1:]
		switch c {
		case '\r':
		case '\n':
			row++
		default:
			for len(lines) <= row {
				lines = append(lines, "")
			}
			lines[row] += string([]byte{c})
		}
	}
	return lines
}

func TestViewShowsStepElapsedAndLastLine(t *testing.T) {
	var out bytes.Buffer
	v, c := newTestView(&out)
	v.Step("repo-manager", build.StepPreparing)
	v.Step("kvstore", build.StepPreparing)
	v.Step("repo-manager", build.StepScript)
	v.Line("repo-manager", "\x1b[32mgo: downloading\x1b[0m github.com/x/y v1.2.3")
	v.Line("repo-manager", "   ") // blank lines do not replace the last one
	c.advance(1500 * time.Millisecond)
	v.Draw()
	got := screen(out.String())
	if len(got) != 2 {
		t.Fatalf("screen %q", got)
	}
	if !regexp.MustCompile(`^⠙ repo-manager  build\.sh    \s*1\.5s  go: downloading github\.com/x/y v1\.2\.3$`).MatchString(got[0]) {
		t.Errorf("repo-manager line %q", got[0])
	}
	if !regexp.MustCompile(`^⠙ kvstore       preparing  \s*1\.5s$`).MatchString(got[1]) {
		t.Errorf("kvstore line %q", got[1])
	}
	// A silent build keeps counting: the line is redrawn in place, not appended.
	c.advance(60 * time.Second)
	v.Step("kvstore", build.StepUpToDate)
	v.Draw()
	got = screen(out.String())
	if len(got) != 2 || !strings.Contains(got[0], "61.5s") || !strings.HasPrefix(got[1], "✔ kvstore") {
		t.Fatalf("after a minute: %q", got)
	}
	if !strings.Contains(out.String(), "\x1b[2A") {
		t.Errorf("no redraw in place: %q", out.String())
	}
	// The last step ends the block: drawn once more and left on the screen.
	v.Line("repo-manager", "password=hunter2 in a build line")
	v.Step("repo-manager", build.StepBuilt)
	got = screen(out.String())
	if len(got) != 2 || !strings.HasPrefix(got[0], "✔ repo-manager  built") || strings.Contains(got[0], "hunter2") {
		t.Fatalf("end of block: %q", got)
	}
	// The next build is a new block below the first.
	out.WriteString("compose output\n")
	v.Step("kvstore", build.StepPreparing)
	v.Step("kvstore", build.StepFailed)
	got = screen(out.String())
	if len(got) != 4 || got[2] != "compose output" || !strings.HasPrefix(got[3], "✘ kvstore") {
		t.Fatalf("second block: %q", got)
	}
}

func TestViewFoldsFinishedServicesOfALargeBlock(t *testing.T) {
	var out bytes.Buffer
	v, _ := newTestView(&out)
	for i := range 60 {
		v.Step(fmt.Sprintf("svc-%02d", i), build.StepPreparing)
	}
	for i := range 55 {
		v.Step(fmt.Sprintf("svc-%02d", i), build.StepUpToDate)
	}
	v.Draw()
	got := screen(out.String())
	if len(got) != maxRows || got[len(got)-1] != "✔ 41 more finished" {
		t.Fatalf("%d lines, last %q", len(got), got[len(got)-1])
	}
	for _, l := range got {
		if len([]rune(l)) >= 80 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("abcdef", 4); got != "abc…" {
		t.Errorf("truncate = %q", got)
	}

}
