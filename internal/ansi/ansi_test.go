package ansi

import "testing"

func TestStrip(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain",
		"\x1b[1;31mred\x1b[0m \x1b]0;title\x07ok\r":   "red ok",
		"\x1b[2K\x1b[1Aup\x1b[?25l":                   "up",
		"tab\tkept, bell\x07 and backspace\b dropped": "tab\tkept, bell and backspace dropped",
		"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\":    "link",
		"\x1b(Bcharset": "charset",
	} {
		if got := Strip(in); got != want {
			t.Errorf("Strip(%q) = %q, want %q", in, got, want)
		}
	}
}
