package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/gc"
)

// GCOptions are the flags of `clocal gc`.
type GCOptions struct {
	IO     *IOStreams
	F      *Factory
	Keep   int
	DryRun bool
	JSON   bool
	// Services limits gc to these services' images and containers (nil: every service).
	Services []string
	// MinAge protects containers that were created but never started: an up in progress
	// creates them all before starting them one by one.
	MinAge time.Duration
	// BuildCache also prunes the daemon's BuildKit cache that no image uses. It is not
	// labelled, so this is all of it, not only clocal's (what `docker builder prune` does):
	// hence a flag, and a hint line with its size otherwise.
	BuildCache bool
}

// NewCmdGC creates `clocal gc`.
func NewCmdGC(f *Factory, runF func(context.Context, *GCOptions) error) *cobra.Command {
	o := &GCOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove superseded images, dangling build leftovers and stopped containers clocal made",
		Long: `Remove images clocal built that are superseded: for each service it keeps every image a
container uses and the newest --keep images. Also removes dangling images left by
clocal's builds and stopped containers of clocal stacks that have no running container
(a stack another clocal process is changing is skipped). Never touches volumes or
anything clocal did not create (images and containers without the dev.clocal.service
label). --service limits it to some services. --dry-run shows what would go and why.`,
		Example: `  clocal gc --dry-run
  clocal gc --keep 1
  clocal gc --service repo-manager --keep 0
  clocal gc --dry-run --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Keep < 0 {
				return BadInputf("--keep must be 0 or more")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runGC(cmd.Context(), o)
		},
	}
	cmd.Flags().IntVar(&o.Keep, "keep", 3, "images to keep per service besides the ones in use")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only show what would be removed")
	cmd.Flags().StringSliceVar(&o.Services, "service", nil, "only this service's images and containers (repeatable)")
	cmd.Flags().BoolVar(&o.BuildCache, "build-cache", false, "also prune BuildKit cache no image uses (all of it, as docker builder prune does)")
	cmd.Flags().DurationVar(&o.MinAge, "min-age", 10*time.Minute, "keep containers created but never started for less than this (an up in progress)")
	addJSONFlag(cmd, &o.JSON)
	_ = cmd.RegisterFlagCompletionFunc("service", completeServiceFlag(f, "service"))
	return cmd
}

// gcJSON is `gc --json`: the plan (with --dry-run) or the plan and what was done.
type gcJSON struct {
	DryRun bool       `json:"dry_run"`
	Plan   gc.Plan    `json:"plan"`
	Result *gc.Result `json:"result,omitempty"`
}

func runGC(ctx context.Context, o *GCOptions) error {
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	inv, err := gc.Collect(ctx, docker, true)
	if err != nil {
		return err
	}
	var pins map[string]bool
	if ws, err := o.F.Workspace(); err == nil {
		pins = stack.PinnedImages(ws)
	}
	plan := gc.Decide(inv, gc.Policy{Keep: o.Keep, Services: o.Services, MinAge: o.MinAge, Now: time.Now(), Pinned: pins})
	if o.DryRun {
		if o.JSON {
			return writeJSON(o.IO.Out, gcJSON{DryRun: true, Plan: plan})
		}
		for _, it := range append(plan.Containers, plan.Images...) {
			fmt.Fprintf(o.IO.Out, "would remove %s %s (%s)\n", it.Kind, it.Name, it.Reason)
		}
		printCache(o, plan.BuildCache, "would prune")
		if plan.Empty() && !(o.BuildCache && plan.BuildCache.Records > 0) {
			fmt.Fprintln(o.IO.ErrOut, "nothing to remove")
		}
		return nil
	}
	res := gc.Apply(ctx, docker, plan, gc.ApplyOptions{BuildCache: o.BuildCache})
	if o.JSON {
		return writeJSON(o.IO.Out, gcJSON{Plan: plan, Result: &res})
	}
	for _, it := range res.Removed {
		fmt.Fprintf(o.IO.Out, "removed %s %s\n", it.Kind, it.Name)
	}
	for _, it := range res.Skipped {
		fmt.Fprintf(o.IO.ErrOut, "kept %s %s: %s\n", it.Kind, it.Name, it.Error)
	}
	for _, it := range res.Failed {
		fmt.Fprintf(o.IO.ErrOut, "%s %s: %s\n", it.Kind, it.Name, redactMessage(it.Error))
	}
	if res.PrunedCache != nil {
		fmt.Fprintf(o.IO.Out, "pruned BuildKit cache: %s in %d records\n", units.HumanSize(float64(res.PrunedCache.Bytes)), res.PrunedCache.Records)
	} else {
		printCache(o, plan.BuildCache, "")
	}
	if len(res.Removed)+len(res.Skipped)+len(res.Failed) == 0 && res.PrunedCache == nil {
		fmt.Fprintln(o.IO.ErrOut, "nothing to remove")
	}
	return nil
}

// printCache shows the BuildKit cache no image uses: what --build-cache would prune, or a
// hint with the flag that removes it.
func printCache(o *GCOptions, c gc.CacheSummary, verb string) {
	if c.Records == 0 {
		return
	}
	human := units.HumanSize(float64(c.Bytes))
	if o.BuildCache && verb != "" {
		fmt.Fprintf(o.IO.Out, "%s BuildKit cache no image uses: %s in %d records\n", verb, human, c.Records)
		return
	}
	if !o.BuildCache {
		fmt.Fprintf(o.IO.ErrOut, "BuildKit cache no image uses: %s in %d records (clocal gc --build-cache removes it; like docker builder prune, that is all of it, not only clocal's)\n", human, c.Records)
	}
}
