package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
)

// DownOptions are the flags of `clocal down`.
type DownOptions struct {
	IO      *IOStreams
	F       *Factory
	Volumes bool
	Timeout time.Duration
	JSON    bool
}

// NewCmdDown creates `clocal down`.
func NewCmdDown(f *Factory, runF func(context.Context, *DownOptions) error) *cobra.Command {
	o := &DownOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the stack's containers, networks and anonymous volumes",
		Long: `Stop and remove the project's containers, networks and anonymous volumes. Named data
volumes are kept unless -v is given. Works from labels alone, so it also cleans up the
leftovers of a killed test run: clocal down -p NAME.`,
		Example: `  clocal down
  clocal down -p coding-local-1a2b3c   # an isolated stack
  clocal down -v                       # also delete data volumes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDown(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "also remove named data volumes (deletes their data)")
	durationFlag(cmd.Flags(), &o.Timeout, "timeout", "t", 10*time.Second, "graceful stop timeout")
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runDown(ctx context.Context, o *DownOptions) error {
	name, err := o.F.Project()
	if err != nil {
		return err
	}
	eng, _, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	// Down works by label even when the workspace does not load; when it does, wait for an
	// up of the same project in progress (its lock) instead of tearing down under it.
	unlock, err := o.F.lockProject(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	var removed []engine.Container
	if o.JSON {
		if removed, err = eng.Ps(ctx, name, engine.PsOptions{All: true, Quick: true}); err != nil {
			return err
		}
	}
	if err := eng.Down(ctx, name, engine.DownOptions{Volumes: o.Volumes, RemoveOrphans: true, Timeout: &o.Timeout}); err != nil {
		return err
	}
	if ws, err := o.F.Workspace(); err == nil {
		stack.RemoveStateAt(ws.Root, name)
	}
	if o.JSON {
		out := actionJSON{Project: name, Action: "down", Containers: []containerJSON{}, Volumes: o.Volumes}
		for _, c := range removed {
			out.Containers = append(out.Containers, containerJSON{Service: c.Service, Name: c.Name, ID: c.ID, State: "removed"})
		}
		return writeJSON(o.IO.Out, out)
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: down\n", name)
	return nil
}
