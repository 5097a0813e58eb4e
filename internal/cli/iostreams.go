package cli

import (
	"io"
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// IOStreams is where a command reads and writes. Commands never touch os.Stdout directly,
// so every command runs in-process in tests with buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// TTY overrides terminal detection (tests); nil means "look at the file descriptors".
	TTY *bool
	// NoColor disables color and every other ANSI code (NO_COLOR, --no-color, or stdout
	// not a terminal).
	NoColor bool
	// Quiet (-q/--quiet) prints only errors and the result: no progress, no build output.
	Quiet bool
}

// System returns the process's real streams.
func System() *IOStreams {
	s := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	s.NoColor = os.Getenv("NO_COLOR") != "" || !isTerminal(os.Stdout)
	return s
}

// IsTerminal reports whether stdout and stdin are an interactive terminal.
func (s *IOStreams) IsTerminal() bool {
	if s.TTY != nil {
		return *s.TTY
	}
	return isTerminal(s.Out) && isTerminal(s.In)
}

// IsStderrTerminal reports whether the error stream is a terminal (progress display).
func (s *IOStreams) IsStderrTerminal() bool {
	if s.TTY != nil {
		return *s.TTY
	}
	return isTerminal(s.ErrOut)
}

// LiveOutput reports whether progress may be redrawn in place (build lines, pulls,
// compose's progress): the error stream is a terminal, colour is allowed, not -q.
func (s *IOStreams) LiveOutput() bool {
	return !s.Quiet && !s.NoColor && s.IsStderrTerminal()
}

// TerminalWidth is the width of the error stream's terminal (0 when unknown).
func (s *IOStreams) TerminalWidth() int {
	f, ok := s.ErrOut.(interface{ Fd() uintptr })
	if !ok {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// ProgressMode is the compose library's progress display: redrawn lines ("auto": tty)
// only on a terminal with colour allowed, plain lines otherwise (no ANSI code at all), and
// nothing but errors with -q.
func (s *IOStreams) ProgressMode() string {
	switch {
	case s.Quiet:
		return "quiet"
	case s.LiveOutput():
		return "auto"
	}
	return "plain"
}

// Colorize returns a color function that is a no-op when color is off.
func (s *IOStreams) Colorize(attrs ...color.Attribute) func(format string, a ...any) string {
	c := color.New(attrs...)
	if s.NoColor {
		c.DisableColor()
	} else {
		c.EnableColor()
	}
	return c.SprintfFunc()
}

func isTerminal(v any) bool {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
