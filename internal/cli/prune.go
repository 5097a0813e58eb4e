package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
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
touched for --grace. Compose projects that clocal did not create are never touched; with
-p only that project is looked at. Named data volumes are kept unless -v, except those of
killed test runs (their own teardown would have removed them).`,
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
	return cmd
}

// staleReason says why a clocal project is stale ("" = not stale). lastTouched is when the
// newest of its objects was created. ownerGone is true for the leftovers of a killed test
// run: their volumes are removed too, as the run's own teardown would have done.
func staleReason(ctrs []container.Summary, hostname string, lastTouched, now time.Time, grace time.Duration, alive func(pid int, start string) bool) (reason string, ownerGone bool) {
	// An owner process recorded on this host decides: alive keeps the stack whatever the
	// state of its containers (it may be in the middle of its up), gone makes it stale.
	ownerSeen := false
	for _, c := range ctrs {
		pid, err := strconv.Atoi(c.Labels[stack.LabelOwnerPID])
		if err != nil || c.Labels[stack.LabelOwnerHost] != hostname {
			continue
		}
		ownerSeen = true
		if !alive(pid, c.Labels[stack.LabelOwnerStart]) {
			return fmt.Sprintf("owner process %d is gone", pid), true
		}
	}
	if ownerSeen {
		return "", false
	}
	for _, c := range ctrs {
		if c.State == "running" || c.State == "restarting" || c.State == "paused" {
			return "", false
		}
	}
	if now.Sub(lastTouched) < grace {
		return "", false // maybe an up in progress
	}
	if len(ctrs) == 0 {
		return "only networks/volumes left", false
	}
	return "no running container", false
}

// isClocalProject tells clocal's stacks from other compose projects: clocal labels every
// service container (dev.clocal.service) and every data volume (dev.clocal.host-path), and
// names the project network "clocal".
func isClocalProject(ctrs []container.Summary, nets []network.Summary, vols []*volume.Volume) bool {
	for _, c := range ctrs {
		if _, ok := c.Labels["dev.clocal.service"]; ok {
			return true
		}
	}
	if len(ctrs) > 0 {
		return false // containers without clocal's labels: someone else's project
	}
	for _, v := range vols {
		if _, ok := v.Labels["dev.clocal.host-path"]; ok {
			return true
		}
	}
	for _, n := range nets {
		if n.Labels["com.docker.compose.network"] == "clocal" {
			return true
		}
	}
	return false
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
	now := time.Now()
	var stale []string
	reasons := map[string]string{}
	dropVolumes := map[string]bool{}
	for _, p := range projects {
		if o.F.ProjectName != "" && p.Name != o.F.ProjectName {
			continue
		}
		ctrs, nets, vols, err := projectObjects(ctx, docker, p.Name)
		if err != nil {
			return err
		}
		if !isClocalProject(ctrs, nets, vols) {
			continue
		}
		if len(ctrs) == 0 && len(nets) == 0 && !o.Volumes {
			continue // only named volumes left: they go with -v only
		}
		last := p.LastCreated
		for _, n := range nets {
			if n.Created.After(last) {
				last = n.Created
			}
		}
		if r, ownerGone := staleReason(ctrs, hostname, last, now, o.Grace, stack.OwnerAlive); r != "" {
			stale = append(stale, p.Name)
			reasons[p.Name] = r
			dropVolumes[p.Name] = o.Volumes || ownerGone
		}
	}
	sort.Strings(stale)
	if len(stale) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "no stale stacks")
		return nil
	}
	timeout := 5 * time.Second
	failed := 0
	for _, name := range stale {
		if o.DryRun {
			fmt.Fprintf(o.IO.Out, "would remove %s (%s)\n", name, reasons[name])
			continue
		}
		if err := eng.Down(ctx, name, engine.DownOptions{RemoveOrphans: true, Volumes: dropVolumes[name], Timeout: &timeout}); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "%s: %v\n", name, err)
			failed++
			continue
		}
		if ws, err := o.F.Workspace(); err == nil {
			(&stack.Stack{WS: ws, Name: name}).RemoveState()
		}
		fmt.Fprintf(o.IO.Out, "removed %s (%s)\n", name, reasons[name])
	}
	if failed > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%d stale stack(s) could not be removed", failed)}
	}
	return nil
}

// projectObjects lists the containers, networks and volumes carrying project's label.
func projectObjects(ctx context.Context, docker client.APIClient, project string) ([]container.Summary, []network.Summary, []*volume.Volume, error) {
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))
	ctrs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, nil, nil, err
	}
	nets, err := docker.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, nil, nil, err
	}
	vols, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, nil, nil, err
	}
	return ctrs, nets, vols.Volumes, nil
}
