package cli

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Problem is one entry of `validate --json`: an error (or a note of the model) at a place
// in a file. Line and Col are 0 when not known.
type Problem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Message  string `json:"message"`
	Severity string `json:"severity"` // error, note
}

// position matches the "FILE:LINE:COL: message" (or "FILE:LINE: message", "FILE: message")
// every bad-input error of clocal starts its lines with. FILE may hold colons (C:\...):
// the last numbers win.
var position = regexp.MustCompile(`^(.+?):(\d+)(?::(\d+))?: (.*)$`)

// fileOnly matches "FILE: message" where FILE looks like a path (no space, a / or a dot).
var fileOnly = regexp.MustCompile(`^([^\s:]*[/.][^\s:]*|[A-Za-z]:\\[^\s:]*): (.*)$`)

// problemsOf turns an error into problems: one per line that names a place; lines that
// do not (indented continuations: "did you mean", a second place) belong to the previous
// problem.
func problemsOf(err error) []Problem {
	out := []Problem{}
	if err == nil {
		return out
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		err = ee.Err
	}
	for _, line := range strings.Split(strings.TrimRight(redact.Text(err.Error()), "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if m := position.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			p := Problem{File: m[1], Message: m[4], Severity: "error"}
			p.Line, _ = strconv.Atoi(m[2])
			p.Col, _ = strconv.Atoi(m[3])
			out = append(out, p)
			continue
		}
		if m := fileOnly.FindStringSubmatch(line); m != nil {
			out = append(out, Problem{File: m[1], Message: m[2], Severity: "error"})
			continue
		}
		if len(out) > 0 && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			out[len(out)-1].Message += "\n" + strings.TrimSpace(line)
			continue
		}
		out = append(out, Problem{Message: strings.TrimSpace(line), Severity: "error"})
	}
	return out
}

// notesOf turns the model's findings into notes at the place each is first said.
func notesOf(fs []workspace.Finding) []Problem {
	out := []Problem{}
	for _, f := range fs {
		p := Problem{Message: redact.Text(f.Subject + ": " + f.Detail), Severity: "note"}
		at, _, _ := strings.Cut(f.At, " (")
		if m := position.FindStringSubmatch(at + ": x"); m != nil {
			p.File = m[1]
			p.Line, _ = strconv.Atoi(m[2])
			p.Col, _ = strconv.Atoi(m[3])
		}
		out = append(out, p)
	}
	return out
}
