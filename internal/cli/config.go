package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// ConfigOptions are the flags of `clocal config`.
type ConfigOptions struct {
	IO        *IOStreams
	F         *Factory
	Targets   []string
	Full      bool
	Ephemeral bool
	Services  bool
}

// NewCmdConfig creates `clocal config [TARGET...]`.
func NewCmdConfig(f *Factory, runF func(*ConfigOptions) error) *cobra.Command {
	o := &ConfigOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "config [TARGET...]",
		Short: "Print the trimmed compose project of a target (or the full project with profiles)",
		Long: `Print the compose project clocal would run for TARGET (a profile, service, job or host
name): the target's services plus the transitive closure of their dependencies, nothing
else. With --full (or no target) print every service, each tagged with the compose
profiles that need it, so "docker compose --profile X up" starts what "clocal up X" starts.`,
		Example: `  clocal config repo-manager
  clocal config --services blog
  clocal config --full > compose.yaml`,
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runConfig(o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	cmd.Flags().BoolVar(&o.Full, "full", false, "print the full project with compose profiles")
	cmd.Flags().BoolVar(&o.Ephemeral, "ephemeral-ports", false, "let the daemon pick host ports")
	cmd.Flags().BoolVar(&o.Services, "services", false, "print only the service names, one per line")
	return cmd
}

func runConfig(o *ConfigOptions) error {
	ws, err := o.F.Workspace()
	if err != nil {
		return err
	}
	opts := convert.Options{EphemeralPorts: o.Ephemeral}
	full := o.Full || len(o.Targets) == 0
	sel, err := ws.Resolve(o.Targets)
	if err != nil {
		return BadInput(err)
	}
	// The images `up` would run now: content hashes only, nothing is built.
	b := &build.Builder{CacheDir: stack.CacheDir(ws)}
	names := sel.Services
	if full {
		names = ws.ServiceNames()
	}
	opts.Images = map[string]string{}
	for _, n := range names {
		if spec, ok := stack.BuildSpec(ws, ws.Services[n]); ok {
			if h, err := b.Hash(spec); err == nil {
				opts.Images[n] = build.ImageRef(n, h)
			}
		}
	}
	if o.Services {
		for _, n := range sel.Services {
			fmt.Fprintln(o.IO.Out, n)
		}
		return nil
	}
	if full {
		sel = nil
	}
	plan, err := convert.FromWorkspace(ws, sel, opts)
	if err != nil {
		return BadInput(err)
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "warning: %s\n", w)
	}
	if n := workspace.SplitNotice(ws.Findings); n != "" {
		fmt.Fprintln(o.IO.ErrOut, n)
	}
	yaml, err := plan.YAML()
	if err != nil {
		return err
	}
	_, err = io.WriteString(o.IO.Out, string(yaml))
	return err
}
