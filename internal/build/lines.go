package build

import (
	"regexp"
	"strings"
	"sync"
)

// maxLine bounds a single output line; longer runs are emitted in pieces.
const maxLine = 64 << 10

// lineWriter turns a byte stream (PTY output, build stream text) into complete,
// prefixed lines written to emit one line per call. It normalises terminal line
// endings: "\r\n" (and the "\r\r\n" a PTY makes of a program's "\r\n") ends a
// line; a lone "\r" (progress bars redrawing the line) discards what was pending,
// like a terminal overwrites it. Cursor-movement and erase escape sequences are
// removed (they would garble prefixed output); colours (SGR) are kept unless plain. The last
// tailN lines are remembered without any escape sequences.
type lineWriter struct {
	mu     sync.Mutex
	plain  bool // remove colours too (no colour wanted: NO_COLOR, --no-color, not a terminal)
	prefix string
	emit   func(string)
	buf    []byte
	sawCR  bool
	tailN  int
	tail   []string
}

func newLineWriter(prefix string, tailN int, emit func(string)) *lineWriter {
	return &lineWriter{prefix: prefix, emit: emit, tailN: tailN}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		switch c {
		case '\n':
			w.flushLocked()
			w.sawCR = false
		case '\r':
			w.sawCR = true
		default:
			if w.sawCR {
				w.buf = w.buf[:0]
				w.sawCR = false
			}
			w.buf = append(w.buf, c)
			if len(w.buf) >= maxLine {
				w.flushLocked()
			}
		}
	}
	return len(p), nil
}

// Flush emits a pending partial line (at end of stream).
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.flushLocked()
	}
	w.sawCR = false
}

// Tail returns a copy of the last lines.
func (w *lineWriter) Tail() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.tail...)
}

func (w *lineWriter) flushLocked() {
	line := stripControl(string(w.buf))
	if w.plain {
		line = stripAllEscapes(line)
	}
	w.buf = w.buf[:0]
	if w.emit != nil {
		w.emit(w.prefix + line + "\n")
	}
	if w.tailN > 0 {
		plain := strings.TrimRight(stripAllEscapes(line), " \t")
		if len(w.tail) == w.tailN {
			copy(w.tail, w.tail[1:])
			w.tail = w.tail[:w.tailN-1]
		}
		w.tail = append(w.tail, plain)
	}
}

var (
	// CSI sequences, OSC sequences (terminated by BEL or ST), and two-byte escapes.
	escRe = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHMc]`)
)

// stripControl removes escape sequences except SGR colours, plus stray control
// characters other than tab.
func stripControl(s string) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = escRe.ReplaceAllStringFunc(s, func(seq string) string {
			if strings.HasPrefix(seq, "\x1b[") && strings.HasSuffix(seq, "m") {
				return seq
			}
			return ""
		})
	}
	return dropCtl(s, true)
}

func stripAllEscapes(s string) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = escRe.ReplaceAllString(s, "")
	}
	return dropCtl(s, false)
}

func dropCtl(s string, keepEsc bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && !(keepEsc && c == 0x1b)) || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t' && !(keepEsc && c == 0x1b)) || c == 0x7f {
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
