package cli

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
)

// LsOptions are the flags of `clocal ls`.
type LsOptions struct {
	IO   *IOStreams
	F    *Factory
	All  bool
	JSON bool
}

// NewCmdLs creates `clocal ls`.
func NewCmdLs(f *Factory, runF func(context.Context, *LsOptions) error) *cobra.Command {
	o := &LsOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the stacks on this Docker daemon",
		Long: `List the clocal stacks on the Docker daemon, whatever workspace started them: project
name, the workspace folder, the owning process of test stacks (and whether it still
runs), state (running, partial, stopped, leftovers), services running of total, and age.
The stack of the current workspace is marked with *. --all adds the compose projects
clocal did not create.`,
		Example: "  clocal ls\n  clocal ls --json",
		Aliases: []string{"stacks"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLs(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.All, "all", "a", false, "also list compose projects clocal did not create")
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runLs(ctx context.Context, o *LsOptions) error {
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	stacks, err := inventory.Collect(ctx, eng, docker, "")
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	rows := inventory.Summarize(stacks, hostname, stack.OwnerAlive, o.All)
	if o.JSON {
		return writeJSON(o.IO.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "no clocal stacks on this daemon (start one with: clocal up TARGET)")
		return nil
	}
	current := ""
	if o.F.ProjectName != "" {
		current = o.F.ProjectName
	} else if ws, err := o.F.Workspace(); err == nil {
		current = ws.ProjectName()
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECT\tSTATE\tRUNNING\tAGE\tOWNER\tWORKSPACE")
	now := time.Now()
	for _, r := range rows {
		name := r.Project
		if name == current {
			name += " *"
		}
		if !r.Clocal {
			name += " (not clocal's)"
		}
		age := "-"
		if !r.Created.IsZero() {
			age = units.HumanDuration(now.Sub(r.Created))
		}
		owner := "-"
		if r.Owner != "" {
			owner = r.Owner
			if !r.OwnerAlive {
				owner += " (gone)"
			}
		}
		ws := r.Workspace
		if ws == "" {
			ws = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", name, r.State, r.Running, r.Total, age, owner, ws)
	}
	return tw.Flush()
}
