//go:build !unix

package build

import (
	"context"
	"errors"
)

func (b *Builder) runScript(_ context.Context, s Spec, _, _ string) error {
	return &ScriptError{Service: s.Service, ExitCode: -1, Err: errors.New("running build.sh needs a Unix shell and pseudo-terminal: on Windows, run clocal inside WSL 2 (with Docker Desktop's WSL integration)")}
}

// KillRunning has nothing to kill where build scripts do not run.
func KillRunning() {}
