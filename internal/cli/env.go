package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
)

// EnvOptions are the flags of `clocal env`.
type EnvOptions struct {
	IO   *IOStreams
	F    *Factory
	JSON bool
}

// NewCmdEnv creates `clocal env`.
func NewCmdEnv(f *Factory, runF func(context.Context, *EnvOptions) error) *cobra.Command {
	o := &EnvOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the stack's service addresses as shell export lines",
		Long: `Print one export line per published service port, for scripts and CI jobs:
  export CLOCAL_PROJECT=coding-local-1a2b3c
  export REPO_MANAGER_URL=http://127.0.0.1:49213
  export REPO_MANAGER_ADDR=127.0.0.1:49213
A service publishing several ports also gets REPO_MANAGER_<PORT>_ADDR per port.`,
		Example: `  eval "$(clocal env -p coding-local-1a2b3c)"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runEnv(cmd.Context(), o)
		},
	}
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runEnv(ctx context.Context, o *EnvOptions) error {
	st, err := o.F.Stack(ctx)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	eps, err := currentEndpoints(ctx, st)
	if err != nil {
		return err
	}
	if o.JSON {
		out := upJSON{Project: st.Name, Services: map[string]serviceJSON{}}
		addEndpoints(&out, eps, true)
		return writeJSON(o.IO.Out, out)
	}
	fmt.Fprintf(o.IO.Out, "export CLOCAL_PROJECT=%s\n", st.Name)
	seen := map[string]bool{}
	for _, e := range eps {
		name := stack.EnvName(e.Service)
		if !seen[name] {
			seen[name] = true
			fmt.Fprintf(o.IO.Out, "export %s_URL=%s\n", name, e.URL)
			fmt.Fprintf(o.IO.Out, "export %s_ADDR=%s\n", name, e.Address())
		}
		fmt.Fprintf(o.IO.Out, "export %s_%d_ADDR=%s\n", name, e.Port, e.Address())
	}
	return nil
}
