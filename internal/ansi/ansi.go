// Package ansi removes terminal escape codes from text that clocal passes on (container
// logs, build output) when colour is off: NO_COLOR, --no-color, or not a terminal.
package ansi

import "strings"

// Strip removes terminal escape sequences (CSI: colours, cursor movement; OSC: titles,
// links; two-byte escapes) and control characters other than tab from a line.
func Strip(s string) string {
	if !strings.ContainsAny(s, "\x1b\r\b\x07") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0x1b {
			// CSI: ESC [ params final; OSC: ESC ] ... BEL or ESC \; others: two bytes.
			if i+1 < len(s) && s[i+1] == '[' {
				j := i + 2
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
				i = j
				continue
			}
			if i+1 < len(s) && s[i+1] == ']' {
				j := i + 2
				for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
					j++
				}
				if j < len(s) && s[j] == 0x1b {
					j++
				}
				i = j
				continue
			}
			if i+1 < len(s) && strings.IndexByte("()*+", s[i+1]) >= 0 {
				i++ // ESC ( B: a charset designation is three bytes
			}
			i++
			continue
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
