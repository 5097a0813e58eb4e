package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack/stats"
)

// StatsOptions are the flags of `clocal stats`.
type StatsOptions struct {
	IO      *IOStreams
	F       *Factory
	Targets []string
	JSON    bool
}

// NewCmdStats creates `clocal stats [TARGET...]`.
func NewCmdStats(f *Factory, runF func(context.Context, *StatsOptions) error) *cobra.Command {
	o := &StatsOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "stats [TARGET...]",
		Short: "Show CPU and memory use per service of the stack",
		Long: `Show what each running service of the stack uses, sampled once as docker stats
--no-stream does: CPU (100% = one core), memory without the page cache against the
limit, processes and network traffic, and the total. TARGET (a profile, service, job or
host name) limits it to that closure.`,
		Example:           "  clocal stats\n  clocal stats repo-manager --json",
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runStats(cmd.Context(), o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

// statsJSON is `stats --json`.
type statsJSON struct {
	Project  string        `json:"project"`
	Services []stats.Usage `json:"services"`
	Total    stats.Usage   `json:"total"`
}

func runStats(ctx context.Context, o *StatsOptions) error {
	project, err := o.F.Project()
	if err != nil {
		return err
	}
	var services []string
	if len(o.Targets) > 0 {
		ws, err := o.F.Workspace()
		if err != nil {
			return err
		}
		sel, err := ws.Resolve(o.Targets)
		if err != nil {
			return BadInput(err)
		}
		services = sel.Services
	}
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctrs, err := eng.Ps(ctx, project, engine.PsOptions{Services: services, Quick: true})
	if err != nil {
		return err
	}
	if len(ctrs) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no running container in project %s (start it with: clocal up TARGET)", project)}
	}
	us, err := stats.Sample(ctx, docker, ctrs)
	if err != nil {
		return err
	}
	total := stats.Total(us)
	if o.JSON {
		return writeJSON(o.IO.Out, statsJSON{Project: project, Services: us, Total: total})
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS\tNET I/O")
	row := func(u stats.Usage) {
		mem := units.BytesSize(float64(u.MemBytes))
		pct := "-"
		if u.MemLimit > 0 {
			mem += " / " + units.BytesSize(float64(u.MemLimit))
			pct = fmt.Sprintf("%.2f%%", u.MemPercent)
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s\t%s\t%d\t%s / %s\n", u.Service, u.CPUPercent, mem, pct, u.PIDs,
			units.HumanSizeWithPrecision(float64(u.NetRx), 3), units.HumanSizeWithPrecision(float64(u.NetTx), 3))
	}
	for _, u := range us {
		row(u)
	}
	if len(us) > 1 {
		row(total)
	}
	return tw.Flush()
}
