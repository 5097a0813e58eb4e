package build_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/build"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []string // emitted lines, prefix included, without "\n"
		tail   []string
	}{
		{"plain", []string{"a\nb\n"}, []string{"s | a", "s | b"}, []string{"a", "b"}},
		{"pty crlf", []string{"one\r\ntwo\r\n"}, []string{"s | one", "s | two"}, []string{"one", "two"}},
		{"program crlf through pty", []string{"x\r\r\n"}, []string{"s | x"}, []string{"x"}},
		{"crlf split across chunks", []string{"abc\r", "\ndef\r", "\r", "\n"}, []string{"s | abc", "s | def"}, []string{"abc", "def"}},
		{"partial line joined", []string{"hel", "lo wor", "ld\n"}, []string{"s | hello world"}, []string{"hello world"}},
		{"partial line flushed at end", []string{"no newline"}, []string{"s | no newline"}, []string{"no newline"}},
		{"progress redraw keeps last", []string{"10%\r50%\r", "100%\n"}, []string{"s | 100%"}, []string{"100%"}},
		{"empty line", []string{"\n"}, []string{"s | "}, []string{""}},
		{"cursor escapes removed colours kept", []string{"\x1b[2K\x1b[1A\x1b[32mok\x1b[0m\n"}, []string{"s | \x1b[32mok\x1b[0m"}, []string{"ok"}},
		{"nul and osc dropped", []string{"\x00\x1b]0;title\x07built\n"}, []string{"s | built"}, []string{"built"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			w := build.NewLineWriter("s | ", 20, func(l string) {
				if !strings.HasSuffix(l, "\n") {
					t.Errorf("emitted line %q has no newline", l)
				}
				got = append(got, strings.TrimSuffix(l, "\n"))
			})
			for _, c := range tt.chunks {
				if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
			if tail := w.Tail(); !reflect.DeepEqual(tail, tt.tail) {
				t.Errorf("tail = %q, want %q", tail, tt.tail)
			}
		})
	}
}

func TestLineWriterTailKeepsLastLines(t *testing.T) {
	w := build.NewLineWriter("", 3, nil)
	for _, l := range []string{"1", "2", "3", "4", "5"} {
		_, _ = w.Write([]byte(l + "\n"))
	}
	if got, want := w.Tail(), []string{"3", "4", "5"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("tail = %q, want %q", got, want)
	}
}
