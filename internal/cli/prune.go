package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
)

// PruneOptions are the flags of `clocal prune`.
type PruneOptions struct {
	IO      *IOStreams
	F       *Factory
	Stale   bool
	DryRun  bool
	Volumes bool
}

// NewCmdPrune creates `clocal prune --stale`.
func NewCmdPrune(f *Factory, runF func(context.Context, *PruneOptions) error) *cobra.Command {
	o := &PruneOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "prune --stale",
		Short: "Remove stacks left behind by killed runs (found by label)",
		Long: `Find clocal stacks by label and tear down the stale ones: isolated stacks whose owning
process (recorded at up) is gone — the leftovers of a killed test run — and stacks with no
running container. Other compose projects are never touched. Named data volumes are kept
unless -v.`,
		Example: `  clocal prune --stale --dry-run
  clocal prune --stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.Stale {
				return BadInputf("say what to prune: --stale")
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
	return cmd
}

// processAlive reports whether pid runs on this machine.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || err == syscall.EPERM
}

// StaleReason says why a project is stale ("" = not stale).
func staleReason(ctrs []container.Summary, hostname string) string {
	running := 0
	for _, c := range ctrs {
		if c.State == "running" || c.State == "restarting" {
			running++
		}
	}
	if running == 0 {
		return "no running container"
	}
	for _, c := range ctrs {
		pid, err := strconv.Atoi(c.Labels[stack.LabelOwnerPID])
		if err != nil || c.Labels[stack.LabelOwnerHost] != hostname {
			continue
		}
		if !processAlive(pid) {
			return fmt.Sprintf("owner process %d is gone", pid)
		}
	}
	return ""
}

func runPrune(ctx context.Context, o *PruneOptions) error {
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	projects, err := eng.Projects(ctx)
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	var stale []string
	reasons := map[string]string{}
	for _, p := range projects {
		f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+p.Name))
		ctrs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
		if err != nil {
			return err
		}
		clocalOwned := false
		for _, c := range ctrs {
			if _, ok := c.Labels["dev.clocal.service"]; ok {
				clocalOwned = true
			}
		}
		if !clocalOwned && len(ctrs) > 0 {
			continue // not a clocal stack
		}
		if len(ctrs) == 0 && !o.Volumes {
			// only volumes/networks left: networks are removed by down; volumes need -v
			if len(p.Networks) == 0 {
				continue
			}
		}
		if r := staleReason(ctrs, hostname); r != "" {
			stale = append(stale, p.Name)
			reasons[p.Name] = r
		}
	}
	sort.Strings(stale)
	if len(stale) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "no stale stacks")
		return nil
	}
	timeout := 5 * time.Second
	for _, name := range stale {
		if o.DryRun {
			fmt.Fprintf(o.IO.Out, "would remove %s (%s)\n", name, reasons[name])
			continue
		}
		if err := eng.Down(ctx, name, engine.DownOptions{RemoveOrphans: true, Volumes: o.Volumes, Timeout: &timeout}); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "%s: %v\n", name, err)
			continue
		}
		fmt.Fprintf(o.IO.Out, "removed %s (%s)\n", name, reasons[name])
	}
	return nil
}
