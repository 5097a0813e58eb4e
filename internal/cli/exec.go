package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
)

// ExecOptions are the flags of `clocal exec` and `clocal shell`.
type ExecOptions struct {
	IO      *IOStreams
	F       *Factory
	Service string
	Cmd     []string
	User    string
	WorkDir string
	Env     []string
	NoTTY   bool
}

// NewCmdExec creates `clocal exec SERVICE COMMAND...`.
func NewCmdExec(f *Factory, runF func(context.Context, *ExecOptions) error) *cobra.Command {
	o := &ExecOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:               "exec SERVICE COMMAND [ARG...]",
		Short:             "Run a command in a service's running container",
		Example:           `  clocal exec repo-manager /app/repo-manager -healthcheck`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeService(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service, o.Cmd = args[0], args[1:]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExec(cmd.Context(), o)
		},
	}
	cmd.Flags().SetInterspersed(false)
	addExecFlags(cmd, o)
	return cmd
}

// NewCmdShell creates `clocal shell SERVICE`.
func NewCmdShell(f *Factory, runF func(context.Context, *ExecOptions) error) *cobra.Command {
	o := &ExecOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:               "shell SERVICE",
		Short:             "Open an interactive shell in a service's container",
		Long:              "Open an interactive shell (sh) in the service's running container. Images built FROM scratch have no shell: clocal says so and suggests exec.",
		Example:           `  clocal shell kvstore`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeService(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			o.Cmd = []string{"sh"}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runShell(cmd.Context(), o)
		},
	}
	addExecFlags(cmd, o)
	return cmd
}

func addExecFlags(cmd *cobra.Command, o *ExecOptions) {
	cmd.Flags().StringVarP(&o.User, "user", "u", "", "run as this user")
	cmd.Flags().StringVarP(&o.WorkDir, "workdir", "W", "", "working directory in the container")
	cmd.Flags().StringArrayVarP(&o.Env, "env", "e", nil, "set KEY=VALUE")
	cmd.Flags().BoolVarP(&o.NoTTY, "no-tty", "T", false, "do not allocate a pseudo-terminal (stdin is still passed: pipe data in)")
}

func runExec(ctx context.Context, o *ExecOptions) error {
	name, svcs, eng, err := o.F.connectServices(ctx, []string{o.Service})
	if err != nil {
		return err
	}
	defer eng.Close()
	// Like docker compose exec: stdin is attached always (-T only drops the terminal), so
	// `clocal exec -T db psql < dump.sql` and `echo x | clocal exec svc cat` work.
	tty := !o.NoTTY && o.IO.IsTerminal()
	code, err := eng.Exec(ctx, name, svcs[0], engine.ExecOptions{Cmd: o.Cmd, TTY: tty, Interactive: true, User: o.User, WorkDir: o.WorkDir, Env: o.Env})
	if err != nil {
		if noShell(err) {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s: %q not found in the container (images built FROM scratch have no shell): run the service's own binary with clocal exec %s /app/...", svcs[0], o.Cmd[0], svcs[0])}
		}
		return err
	}
	if code != 0 {
		return &ExitError{Code: code, Err: ErrSilent}
	}
	return nil
}

func runShell(ctx context.Context, o *ExecOptions) error {
	err := runExec(ctx, o)
	var ee *ExitError
	// sh exists but exec returned 126/127: the image has no usable shell.
	if errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) && errors.Is(ee.Err, ErrSilent) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s has no shell (its image is probably built FROM scratch): use clocal exec %s COMMAND, or clocal inspect %s", o.Service, o.Service, o.Service)}
	}
	return err
}

func noShell(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") && strings.Contains(msg, "exec")
}
