package cli

import (
	"io"
	"os"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
)

// IOStreams is where a command reads and writes. Commands never touch os.Stdout directly,
// so every command runs in-process in tests with buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// TTY overrides terminal detection (tests); nil means "look at the file descriptors".
	TTY *bool
	// NoColor disables color (NO_COLOR, --no-color, or not a terminal).
	NoColor bool
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
