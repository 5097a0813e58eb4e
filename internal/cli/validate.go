package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/job"
)

// ValidateOptions are the flags of `clocal validate`.
type ValidateOptions struct {
	IO    *IOStreams
	F     *Factory
	Paths []string
}

// NewCmdValidate creates `clocal validate [PATH...]`.
func NewCmdValidate(f *Factory, runF func(*ValidateOptions) error) *cobra.Command {
	o := &ValidateOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Check job files (or the whole workspace) and report every error",
		Long: `Check job files and exit 0 when they are valid, 2 otherwise, printing every problem as
FILE:LINE:COL: message. Without PATH the whole workspace is checked: job files, service
files, profiles and the dependency graph.`,
		Example: `  clocal validate services/repo-manager/
  clocal validate`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			if runF != nil {
				return runF(o)
			}
			return runValidate(o)
		},
	}
	return cmd
}

func runValidate(o *ValidateOptions) error {
	if len(o.Paths) == 0 {
		ws, err := o.F.Workspace()
		if err != nil {
			return err
		}
		if _, err := convert.FromWorkspace(ws, nil, convert.Options{}); err != nil {
			return BadInput(err)
		}
		fmt.Fprintf(o.IO.ErrOut, "workspace %s: %d services, %d profiles: ok\n", ws.Root, len(ws.Services), len(ws.Profiles))
		return nil
	}
	jobs, err := job.LoadPaths(o.Paths)
	if err != nil {
		return BadInput(err)
	}
	if _, err := convert.FromJobs(jobs, convert.Options{}); err != nil {
		return BadInput(err)
	}
	fmt.Fprintf(o.IO.ErrOut, "%d jobs: ok\n", len(jobs))
	return nil
}
