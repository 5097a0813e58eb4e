package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/redact"
)

// Exit statuses, documented in the README.
const (
	ExitOK          = 0
	ExitFailure     = 1   // runtime failure (Docker, build, health)
	ExitBadInput    = 2   // bad job file, service file, profile, flag or target; nothing was touched
	ExitInterrupted = 130 // SIGINT/SIGTERM
)

// ExitError carries an exit status and the message the user sees.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// BadInput marks err as bad input (exit status 2).
func BadInput(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitBadInput, Err: err}
}

// BadInputf formats a bad-input error.
func BadInputf(format string, a ...any) error { return BadInput(fmt.Errorf(format, a...)) }

// ErrSilent is returned after a command already printed its own error output.
var ErrSilent = errors.New("")

// ExitCode maps an error returned by a command to the process exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var jl job.ErrorList
	if errors.As(err, &jl) {
		return ExitBadInput
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitFailure
}

// PrintError writes err for a human: job error lists one FILE:LINE:COL per line, everything
// else as "clocal: message".
func PrintError(w io.Writer, err error) {
	if err == nil || errors.Is(err, ErrSilent) || err.Error() == "" {
		return
	}
	var jl job.ErrorList
	if errors.As(err, &jl) {
		fmt.Fprintln(w, redact.Text(jl.Error()))
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "clocal: interrupted")
		return
	}
	// secrets (a secret-looking key's value, credentials embedded in URLs or DSNs, build
	// output in a failed build's tail) never reach the terminal
	msg := redactMessage(strings.TrimRight(err.Error(), "\n"))
	fmt.Fprintf(w, "clocal: %s\n", msg)
}

// redactMessage hides the secrets of a message (redact.Text).
func redactMessage(msg string) string { return redact.Text(msg) }
