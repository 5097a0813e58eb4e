// Package buildview shows builds in a terminal as compose and BuildKit do: one line per
// service, redrawn in place a few times a second, with the step it is in (preparing,
// build.sh, image), the time it has taken so far and the last line of its output, so a
// silent 60-second build.sh visibly runs. A View is a build.Progress.
//
// A View draws "blocks": the first step of an idle view starts one, and when every service
// of the block has finished (built, up to date, failed) it is drawn a last time and left on
// the screen, so what is printed next (compose's progress, the URLs) comes below it.
// Only for terminals: without one (or without colour: NO_COLOR), clocal prints prefixed
// lines instead, and a View is not used at all.
package buildview

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clocal-dev/clocal/internal/ansi"
	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/redact"
)

// Interval is how often a running block is redrawn.
const Interval = 100 * time.Millisecond

// maxRows is how many service lines a block shows; beyond it, finished services are
// counted on one summary line (60 services rebuilt at once must not scroll the screen).
const maxRows = 20

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// View is the live display. Create it with New; it is safe for concurrent use.
type View struct {
	mu    sync.Mutex
	out   io.Writer
	width int
	now   func() time.Time
	tick  time.Duration

	rows   []*row
	byName map[string]*row
	drawn  int // lines of the last draw of the current block
	frame  int
	stop   chan struct{} // closed (under mu) when the block's redraw loop must end
}

type row struct {
	service    string
	step       string
	start, end time.Time
	last       string
}

// New returns a view drawing on out (a terminal) width columns wide (0: 100).
func New(out io.Writer, width int) *View {
	if width <= 0 {
		width = 100
	}
	return &View{out: out, width: width, now: time.Now, tick: Interval, byName: map[string]*row{}}
}

var _ build.Progress = (*View)(nil)

// Step implements build.Progress.
func (v *View) Step(service, step string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.byName[service]
	now := v.now()
	if r == nil || build.IsFinal(r.step) && !build.IsFinal(step) {
		if r == nil {
			r = &row{service: service}
			v.byName[service] = r
			v.rows = append(v.rows, r)
		}
		r.start, r.end, r.last = now, time.Time{}, ""
		v.startLocked()
	}
	r.step = step
	if build.IsFinal(step) {
		r.end = now
		if v.allFinalLocked() {
			v.endBlockLocked()
		}
	}
}

// Line implements build.Progress: the line becomes the service's last line (secrets and
// escape sequences removed).
func (v *View) Line(service, line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r := v.byName[service]; r != nil {
		if l := strings.TrimSpace(ansi.Strip(line)); l != "" {
			r.last = redact.Text(l)
		}
	}
}

// Close draws a block still running a last time and stops redrawing.
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.rows) > 0 {
		v.endBlockLocked()
	}
}

func (v *View) allFinalLocked() bool {
	for _, r := range v.rows {
		if !build.IsFinal(r.step) {
			return false
		}
	}
	return true
}

// startLocked starts redrawing, when not already.
func (v *View) startLocked() {
	if v.stop != nil || v.tick <= 0 {
		return
	}
	v.stop = make(chan struct{})
	go v.loop(v.stop)
}

// loop redraws until stop is closed. It checks stop under mu before drawing, so once the
// block ended (stop closed under mu) it never draws again.
func (v *View) loop(stop chan struct{}) {
	t := time.NewTicker(v.tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		v.mu.Lock()
		select {
		case <-stop:
			v.mu.Unlock()
			return
		default:
		}
		v.drawLocked()
		v.mu.Unlock()
	}
}

// endBlockLocked draws the block a last time, leaves it on the screen and forgets it.
func (v *View) endBlockLocked() {
	if v.stop != nil {
		close(v.stop)
		v.stop = nil
	}
	v.drawLocked()
	v.rows, v.byName, v.drawn = nil, map[string]*row{}, 0
}

// Draw redraws the current block now (tests; the view redraws itself every Interval).
func (v *View) Draw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.drawLocked()
}

func (v *View) drawLocked() {
	if len(v.rows) == 0 {
		return
	}
	v.frame++
	lines := v.renderLocked()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	// A block that shrank (finished rows folded into the summary) clears what is left.
	for i := len(lines); i < v.drawn; i++ {
		b.WriteString("\r\x1b[2K\n")
	}
	if extra := v.drawn - len(lines); extra > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	v.drawn = len(lines)
	_, _ = io.WriteString(v.out, b.String())
}

// renderLocked returns the block's lines (no escape sequences).
func (v *View) renderLocked() []string {
	rows := v.rows
	var folded []*row
	if len(rows) > maxRows {
		var active []*row
		for _, r := range rows {
			if build.IsFinal(r.step) && r.step != build.StepFailed {
				folded = append(folded, r)
			} else {
				active = append(active, r)
			}
		}
		// Keep the newest finished ones visible while there is room.
		for len(active) < maxRows-1 && len(folded) > 0 {
			active = append(active, folded[len(folded)-1])
			folded = folded[:len(folded)-1]
		}
		rows = active
	}
	nameW, stepW := 0, len(build.StepUpToDate)
	for _, r := range rows {
		nameW = max(nameW, len(r.service))
	}
	now := v.now()
	out := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		icon := spinner[v.frame%len(spinner)]
		switch r.step {
		case build.StepBuilt, build.StepUpToDate:
			icon = "✔"
		case build.StepFailed:
			icon = "✘"
		}
		end := r.end
		if end.IsZero() {
			end = now
		}
		line := fmt.Sprintf("%s %-*s  %-*s  %5.1fs", icon, nameW, r.service, stepW, r.step, end.Sub(r.start).Seconds())
		if r.last != "" && r.step != build.StepUpToDate {
			line += "  " + r.last
		}
		out = append(out, truncate(line, v.width-1))
	}
	if len(folded) > 0 {
		out = append(out, truncate(fmt.Sprintf("✔ %d more finished", len(folded)), v.width-1))
	}
	return out
}

// truncate cuts s to n runes, marking the cut with an ellipsis: a line wider than the
// terminal wraps, and the redraw would then move up too few lines.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
