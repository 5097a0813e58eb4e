package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
	"github.com/clocal-dev/clocal/internal/stack/prune"
)

// PruneOptions are the flags of `clocal prune`.
type PruneOptions struct {
	IO      *IOStreams
	F       *Factory
	Stale   bool
	DryRun  bool
	Volumes bool
	JSON    bool
	// Grace protects stacks without an owner process: they are stale only when nothing of
	// them was created for this long (an `up` in progress has created-but-not-started
	// containers, which must not be mistaken for leftovers).
	Grace time.Duration
}

// NewCmdPrune creates `clocal prune --stale`.
func NewCmdPrune(f *Factory, runF func(context.Context, *PruneOptions) error) *cobra.Command {
	o := &PruneOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "prune --stale",
		Short: "Remove stacks left behind by killed runs (found by label)",
		Long: `Find clocal stacks by label and tear down the stale ones: stacks whose owning process
(recorded by pkg/stacktest in the dev.clocal.owner-pid/owner-host labels) is gone — the
leftovers of a killed test run — and stacks with no running container that nothing
touched for --grace. A stack another clocal process holds (its project lock) is in use
and skipped. Compose projects that clocal did not create are never touched; with -p only
that project is looked at. Named data volumes are kept unless -v, except those of killed
test runs (their own teardown would have removed them).`,
		Example: `  clocal prune --stale --dry-run
  clocal prune --stale
  clocal -p coding-local-1a2b3c4d-t0a1b2c3d prune --stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.Stale {
				return BadInputf("say what to prune: --stale")
			}
			if o.Grace < 0 {
				return BadInputf("--grace must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runPrune(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Stale, "stale", false, "remove stale stacks")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only show what would be removed")
	cmd.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "also remove the named volumes of stale stacks")
	cmd.Flags().DurationVar(&o.Grace, "grace", 10*time.Minute, "a stack without owner process and without running container is stale only when nothing of it was created for this long")
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

// pruneJSON is `prune --json`: the stale stacks, and with what was done unless --dry-run.
type pruneJSON struct {
	DryRun bool            `json:"dry_run"`
	Stale  []prune.Verdict `json:"stale"`
	Result []prune.Outcome `json:"result,omitempty"`
}

func runPrune(ctx context.Context, o *PruneOptions) error {
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	stacks, err := inventory.Collect(ctx, eng, docker, o.F.ProjectName)
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	stale := prune.Decide(stacks, prune.Policy{Grace: o.Grace, Volumes: o.Volumes, Hostname: hostname, Now: time.Now(), Alive: stack.OwnerAlive})
	if o.DryRun {
		if o.JSON {
			return writeJSON(o.IO.Out, pruneJSON{DryRun: true, Stale: stale})
		}
		for _, v := range stale {
			fmt.Fprintf(o.IO.Out, "would remove %s (%s)\n", v.Project, v.Reason)
		}
		if len(stale) == 0 {
			fmt.Fprintln(o.IO.ErrOut, "no stale stacks")
		}
		return nil
	}
	root := ""
	if ws, err := o.F.Workspace(); err == nil {
		root = ws.Root
	}
	out := prune.Apply(ctx, eng, stale, prune.ApplyOptions{Timeout: 5 * time.Second, Workspace: root})
	failed := 0
	for _, oc := range out {
		if !oc.Removed && !oc.Busy {
			failed++
		}
	}
	if o.JSON {
		if err := writeJSON(o.IO.Out, pruneJSON{Stale: stale, Result: out}); err != nil {
			return err
		}
	} else {
		for _, oc := range out {
			switch {
			case oc.Removed:
				fmt.Fprintf(o.IO.Out, "removed %s (%s)\n", oc.Project, oc.Reason)
			case oc.Busy:
				fmt.Fprintf(o.IO.ErrOut, "kept %s: %s\n", oc.Project, oc.Error)
			default:
				fmt.Fprintf(o.IO.ErrOut, "%s: %s\n", oc.Project, redactMessage(oc.Error))
			}
		}
		if len(stale) == 0 {
			fmt.Fprintln(o.IO.ErrOut, "no stale stacks")
		}
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d stale stack(s) could not be removed", failed)}
	}
	return nil
}
