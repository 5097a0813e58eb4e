package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-units"
)

// progressView shows pulls: in a terminal one line per image, redrawn in place a few times
// a second; otherwise plain lines (start, a progress line at most every lineEvery per
// image, and the result).
type progressView struct {
	mu    sync.Mutex
	out   io.Writer
	tty   bool
	items []*pullState
	drawn int // lines of the last terminal redraw
	width int // of the image column
	quit  chan struct{}
	done  chan struct{}
	now   func() time.Time
}

// lineEvery is how often a plain-lines pull reports progress.
var lineEvery = 5 * time.Second

type layerState struct {
	cur, total int64
	downloaded bool // download finished (or the layer already existed)
	done       bool // extracted
}

type pullState struct {
	ref      string
	forWhom  []string
	started  time.Time
	ended    time.Time
	layers   map[string]*layerState
	order    []string
	phase    string // waiting, pulling, done, failed, cancelled
	upToDate bool
	err      string
	lastLine time.Time
	lastText string
}

func newProgressView(out io.Writer, tty bool) *progressView {
	if out == nil {
		out = io.Discard
	}
	return &progressView{out: out, tty: tty, now: time.Now}
}

func (v *progressView) add(ref string, forWhom []string) {
	v.items = append(v.items, &pullState{ref: ref, forWhom: forWhom, phase: "waiting", layers: map[string]*layerState{}})
	if len(ref) > v.width {
		v.width = len(ref)
	}
}

func (v *progressView) start() {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, it := range v.items {
		it.started = now
	}
	if !v.tty {
		for _, it := range v.items {
			fmt.Fprintf(v.out, "pulling %s%s\n", it.ref, forText(it.forWhom))
		}
		return
	}
	v.redrawLocked()
	v.quit, v.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(v.done)
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-v.quit:
				return
			case <-t.C:
				v.mu.Lock()
				v.redrawLocked()
				v.mu.Unlock()
			}
		}
	}()
}

func forText(forWhom []string) string {
	if len(forWhom) == 0 {
		return ""
	}
	return " (for " + strings.Join(forWhom, ", ") + ")"
}

// event folds one message of the daemon's pull stream into the image's state.
func (v *progressView) event(i int, m jsonmessage.JSONMessage) {
	v.mu.Lock()
	defer v.mu.Unlock()
	it := v.items[i]
	if it.phase == "waiting" {
		it.phase = "pulling"
	}
	status := m.Status
	switch {
	case strings.HasPrefix(status, "Status: Image is up to date"):
		it.upToDate = true
		return
	case strings.HasPrefix(status, "Status:"), strings.HasPrefix(status, "Digest:"), strings.HasPrefix(status, "Pulling from"):
		return
	}
	if m.ID == "" {
		return
	}
	l := it.layers[m.ID]
	if l == nil {
		l = &layerState{}
		it.layers[m.ID] = l
		it.order = append(it.order, m.ID)
	}
	switch status {
	case "Downloading":
		if m.Progress != nil {
			l.cur, l.total = m.Progress.Current, m.Progress.Total
		}
	case "Verifying Checksum", "Download complete":
		if l.total > 0 {
			l.cur = l.total
		}
		l.downloaded = true
	case "Extracting":
		l.downloaded = true
		if l.total > 0 {
			l.cur = l.total
		}
	case "Pull complete", "Already exists":
		l.downloaded, l.done = true, true
		if l.total > 0 {
			l.cur = l.total
		}
	}
	if !v.tty {
		v.lineLocked(it)
	}
}

// summary says where a pull is: "downloading 12.3MB/40.1MB, 2/5 layers".
func (it *pullState) summary() string {
	var cur, total int64
	done, downloaded := 0, 0
	for _, id := range it.order {
		l := it.layers[id]
		cur += l.cur
		total += l.total
		if l.done {
			done++
		}
		if l.downloaded {
			downloaded++
		}
	}
	n := len(it.order)
	switch {
	case n == 0:
		return "resolving"
	case downloaded < n && total > 0:
		return fmt.Sprintf("downloading %s/%s, %d/%d layers", units.HumanSize(float64(cur)), units.HumanSize(float64(total)), done, n)
	case downloaded < n:
		return fmt.Sprintf("downloading, %d/%d layers", done, n)
	default:
		return fmt.Sprintf("extracting, %d/%d layers", done, n)
	}
}

func (it *pullState) size() int64 {
	var total int64
	for _, l := range it.layers {
		total += l.total
	}
	return total
}

func (it *pullState) result() string {
	d := it.ended.Sub(it.started).Round(100 * time.Millisecond)
	switch it.phase {
	case "failed":
		return "failed: " + it.err
	case "cancelled":
		return "cancelled"
	}
	if it.upToDate {
		return fmt.Sprintf("up to date (%s)", d)
	}
	if s := it.size(); s > 0 {
		return fmt.Sprintf("pulled %s in %s", units.HumanSize(float64(s)), d)
	}
	return fmt.Sprintf("pulled in %s", d)
}

// lineLocked prints a progress line for a plain-lines pull when lineEvery passed and it
// says something new.
func (v *progressView) lineLocked(it *pullState) {
	now := v.now()
	if now.Sub(it.lastLine) < lineEvery && !it.lastLine.IsZero() {
		return
	}
	if now.Sub(it.started) < lineEvery {
		return
	}
	text := it.summary()
	if text == it.lastText {
		return
	}
	it.lastLine, it.lastText = now, text
	fmt.Fprintf(v.out, "pulling %s: %s\n", it.ref, text)
}

func (v *progressView) finish(i int, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	it := v.items[i]
	it.ended = v.now()
	switch {
	case err == nil:
		it.phase = "done"
	case errors.Is(err, context.Canceled):
		it.phase = "cancelled"
	default:
		it.phase = "failed"
		_, it.err = classifyMessage(err.Error())
	}
	if !v.tty && it.phase != "cancelled" {
		fmt.Fprintf(v.out, "%s: %s\n", it.ref, it.result())
	}
}

// stop ends the terminal redraws with a last one.
func (v *progressView) stop() {
	if v.quit != nil {
		close(v.quit)
		<-v.done
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty {
		v.redrawLocked()
	}
}

// redrawLocked rewrites the terminal lines of every image in place.
func (v *progressView) redrawLocked() {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, it := range v.items {
		var state string
		switch it.phase {
		case "waiting":
			state = "waiting"
		case "pulling":
			state = it.summary()
		default:
			state = it.result()
		}
		fmt.Fprintf(&b, "\r\x1b[2K%-*s  %s\n", v.width, it.ref, state)
	}
	v.drawn = len(v.items)
	_, _ = io.WriteString(v.out, b.String())
}
