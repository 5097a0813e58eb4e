package job

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf8"
)

// posTable turns byte offsets of one file into positions. Columns count
// runes from 1, as prototext does, so both report the same position.
type posTable struct {
	file  string
	data  []byte
	src   string // data as a string, for substrings that need no copy
	lines []int  // offsets where lines start; built on first use

	// The last position computed: positions are mostly asked for in file
	// order, so a column is counted from there rather than from the start of
	// its line (a whole file may be one line).
	lastOff, lastLine, lastCol int
}

func (pt *posTable) pos(off int) Pos {
	if pt.lines == nil {
		n := bytes.Count(pt.data, []byte{'\n'})
		pt.lines = make([]int, 1, n+1)
		for i := 0; ; {
			j := bytes.IndexByte(pt.data[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
			pt.lines = append(pt.lines, i)
		}
	}
	off = min(max(off, 0), len(pt.data))
	if pt.lastLine > 0 && off >= pt.lastOff &&
		(pt.lastLine == len(pt.lines) || off < pt.lines[pt.lastLine]) {
		pt.lastCol += utf8.RuneCount(pt.data[pt.lastOff:off])
		pt.lastOff = off
		return Pos{File: pt.file, Line: pt.lastLine, Col: pt.lastCol}
	}
	// The last line start <= off.
	l := sort.Search(len(pt.lines), func(k int) bool { return pt.lines[k] > off }) - 1
	start := pt.lines[l]
	pt.lastOff, pt.lastLine, pt.lastCol = off, l+1, utf8.RuneCount(pt.data[start:off])+1
	return Pos{File: pt.file, Line: pt.lastLine, Col: pt.lastCol}
}

func (pt *posTable) errorf(off int, format string, args ...any) Error {
	return Error{Pos: pt.pos(off), Msg: fmt.Sprintf(format, args...)}
}

// checkText reports the first NUL byte or invalid UTF-8 sequence in data.
// Job files are UTF-8 text; prototext would accept invalid UTF-8 in comments
// and reports NUL bytes confusingly, so both are refused up front.
func checkText(pt *posTable) (Error, bool) {
	data := pt.data
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return pt.errorf(i, "NUL byte in file: a job file must be UTF-8 text"), false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return pt.errorf(i, "invalid UTF-8 (byte 0x%02x): a job file must be UTF-8 text", c), false
		}
		i += n
	}
	return Error{}, true
}
