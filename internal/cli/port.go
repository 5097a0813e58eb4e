package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
)

// PortOptions are the flags of `clocal port`.
type PortOptions struct {
	IO      *IOStreams
	F       *Factory
	Service string
	Port    int
	JSON    bool
}

// NewCmdPort creates `clocal port SERVICE [PORT]`.
func NewCmdPort(f *Factory, runF func(context.Context, *PortOptions) error) *cobra.Command {
	o := &PortOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:               "port SERVICE [PORT]",
		Short:             "Print the host address a service port is published on",
		Example:           "  clocal port repo-manager\n  clocal port repo-manager 8866",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeService(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			if len(args) == 2 {
				p, err := strconv.Atoi(args[1])
				if err != nil || p < 1 || p > 65535 {
					return BadInputf("invalid port %q", args[1])
				}
				o.Port = p
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runPort(cmd.Context(), o)
		},
	}
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runPort(ctx context.Context, o *PortOptions) error {
	service, st, err := o.F.serviceStack(ctx, o.Service)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	eps, err := currentEndpoints(ctx, st)
	if err != nil {
		return err
	}
	found := []stack.Endpoint{}
	for _, e := range eps {
		if e.Service == service && (o.Port == 0 || e.Port == o.Port) {
			found = append(found, e)
		}
	}
	if o.JSON && len(found) > 0 {
		return writeJSON(o.IO.Out, found)
	}
	for _, e := range found {
		fmt.Fprintln(o.IO.Out, e.Address())
	}
	if len(found) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s publishes no port%s in project %s", service, map[bool]string{true: fmt.Sprintf(" %d", o.Port), false: ""}[o.Port != 0], st.Name)}
	}
	return nil
}

// currentEndpoints lists the published ports of the stack as it was last brought up (its
// recorded targets); a stack that was never brought up here is a runtime failure.
func currentEndpoints(ctx context.Context, st *stack.Stack) ([]stack.Endpoint, error) {
	plan, _, err := st.CurrentPlan()
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	return st.Endpoints(ctx, plan)
}
