package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/doctor"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// InitOptions are the flags of `clocal init`.
type InitOptions struct {
	IO      *IOStreams
	F       *Factory
	Profile string
}

// NewCmdInit creates `clocal init`: the first-day walk-through.
func NewCmdInit(f *Factory, runF func(context.Context, *InitOptions) error) *cobra.Command {
	o := &InitOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "init [PROFILE]",
		Short: "First-day setup: check the machine, create your local overrides file, show what to run",
		Long: `Walk a new hire from a fresh clone to a running stack: checks the machine (clocal doctor),
creates the git-ignored clocal.local.yaml for per-developer overrides when it is missing,
lists the profiles and prints the command that starts the chosen one.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Profile = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runInit(cmd.Context(), o)
		},
	}
	return cmd
}

const localTemplate = `# Per-developer overrides (git-ignored). Nothing here is shared.
# sources:                 # where your checkouts live, relative to this workspace
#   repo-manager: ../repo-manager
# env:                     # extra env per service
#   repo-manager: {LOG_LEVEL: debug}
# healthcheck_interval: 3s # probe less often: less idle CPU, a little slower to be ready
`

func runInit(ctx context.Context, o *InitOptions) error {
	ws, err := o.F.Workspace()
	if err != nil {
		return err
	}
	out := o.IO.Out
	fmt.Fprintf(out, "Workspace: %s\n\n1. Checking this machine\n", ws.Root)
	target := o.Profile
	if target == "" {
		if _, ok := ws.Profiles["repo-manager"]; ok {
			target = "repo-manager"
		} else if names := ws.ProfileNames(); len(names) > 0 {
			target = names[0]
		}
	}
	var targets []string
	if target != "" {
		targets = []string{target}
	}
	env := doctor.Env{WS: ws, Targets: targets}
	o.F.doctorHosts(&env)
	if eng, docker, err := o.F.Connect(ctx); err != nil {
		env.DockerErr = err
	} else {
		defer eng.Close()
		env.Docker = docker
	}
	findings := doctor.Run(ctx, env)
	printFindings(o.IO, findings)

	local := filepath.Join(ws.Root, workspace.LocalFile)
	fmt.Fprintf(out, "\n2. Your local overrides\n")
	if _, err := os.Stat(local); os.IsNotExist(err) {
		if err := os.WriteFile(local, []byte(localTemplate), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "   created %s (git-ignored): point sources at your own checkouts there\n", workspace.LocalFile)
	} else {
		fmt.Fprintf(out, "   %s exists\n", workspace.LocalFile)
	}
	fmt.Fprintf(out, "\n3. Profiles\n")
	for _, name := range ws.ProfileNames() {
		fmt.Fprintf(out, "   %-16s %s\n", name, ws.Profiles[name].Description)
	}
	fmt.Fprintf(out, "\n4. Start\n")
	if doctor.Blocking(findings) {
		fmt.Fprintf(out, "   fix the FAIL lines above first, then run:\n")
	}
	fmt.Fprintf(out, "   clocal up %s          # build, start, wait for health, print URLs\n", target)
	fmt.Fprintf(out, "   clocal up %s --watch  # ...and rebuild on every save\n", target)
	if doctor.Blocking(findings) {
		return &ExitError{Code: ExitFailure, Err: doctor.ErrBlocked}
	}
	return nil
}
