package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/doctor"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/redact"
)

// DoctorOptions are the flags of `clocal doctor`.
type DoctorOptions struct {
	IO      *IOStreams
	F       *Factory
	Targets []string
	JSON    bool
}

// NewCmdDoctor creates `clocal doctor [TARGET...]`.
func NewCmdDoctor(f *Factory, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	o := &DoctorOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "doctor [TARGET...]",
		Short: "Check this machine can run a target, and say how to fix what is wrong",
		Long: `Check Docker (reachable, version), free disk and inodes under Docker's root, the inotify
watch limit, ports the target needs that are already taken, missing source folders, the
build tools each build.sh runs, and every image the target needs that clocal does not
build (third-party services, base images, the toolchains build.sh runs): present, or
pullable from its registry. Each finding says how to fix it. Exits 1 when
something blocks clocal up.`,
		Example:           "  clocal doctor repo-manager",
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDoctor(cmd.Context(), o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print findings as JSON")
	return cmd
}

func runDoctor(ctx context.Context, o *DoctorOptions) error {
	env := doctor.Env{Targets: o.Targets, RouterExecutable: o.F.RouterExecutable}
	ws, err := o.F.Workspace()
	if err != nil {
		return err
	}
	env.WS = ws
	env.Project, _ = o.F.Project()
	o.F.doctorHosts(&env)
	defer doctorBuildDocker(ctx, &env)()
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		env.DockerErr = err
	} else {
		defer eng.Close()
		env.Docker = docker
		project, _ := o.F.Project()
		// Ports published by this workspace's own running stack are not conflicts.
		owned := map[int]string{}
		if ctrs, err := eng.Ps(ctx, project, engine.PsOptions{}); err == nil {
			for _, c := range ctrs {
				for _, p := range c.Publishers {
					owned[p.PublishedPort] = c.Service
				}
			}
		}
		env.PortOwner = func(port int) string { return owned[port] }
	}
	findings := doctor.Run(ctx, env)
	// Findings quote registry addresses, images and paths: redacted like everything else.
	if o.JSON {
		if err := writeRedacted(o.IO.Out, func(w io.Writer) error { return writeJSON(w, findings) }); err != nil {
			return err
		}
	} else {
		for i := range findings {
			findings[i].Message, findings[i].Fix = redact.Text(findings[i].Message), redact.Text(findings[i].Fix)
		}
		printFindings(o.IO, findings)
	}
	if doctor.Blocking(findings) {
		return &ExitError{Code: ExitFailure, Err: doctor.ErrBlocked}
	}
	return nil
}

func printFindings(io *IOStreams, findings []doctor.Finding) {
	green, yellow, red := io.Colorize(colorGreen), io.Colorize(colorYellow), io.Colorize(colorRed)
	for _, f := range findings {
		mark := green("ok  ")
		switch f.Severity {
		case doctor.Warn:
			mark = yellow("warn")
		case doctor.Blocker:
			mark = red("FAIL")
		}
		fmt.Fprintf(io.Out, "%s %-12s %s\n", mark, f.Check, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(io.Out, "     %-12s fix: %s\n", "", f.Fix)
		}
	}
}
