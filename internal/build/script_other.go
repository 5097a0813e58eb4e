//go:build !unix

package build

import (
	"context"
	"errors"
)

func (b *Builder) runScript(_ context.Context, s Spec, _, _ string) error {
	return &ScriptError{Service: s.Service, ExitCode: -1, Err: errors.New("running build.sh needs a Unix pseudo-terminal")}
}
