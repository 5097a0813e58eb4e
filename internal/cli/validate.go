package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// ValidateOptions are the flags of `clocal validate`.
type ValidateOptions struct {
	IO    *IOStreams
	F     *Factory
	Paths []string
	All   bool
	JSON  bool
}

// NewCmdValidate creates `clocal validate [PATH...]`.
func NewCmdValidate(f *Factory, runF func(*ValidateOptions) error) *cobra.Command {
	o := &ValidateOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Check job files (or the whole workspace) and report every error",
		Long: `Check job files and exit 0 when they are valid, 2 otherwise, printing every problem as
FILE:LINE:COL: message. Without PATH the whole workspace is checked: job files, service
files, profiles, the dependency graph and the network namespaces (two jobs listening on
one port in one namespace is an error naming both). It also lists, aggregated, what the
model says once: replicas split because they differ in image or port, replicas run as one
although they differ otherwise, addresses that name no single job, dependency cycles.
Job files are read with the workspace's schema (clocal.yaml schema:) when inside one.`,
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
	cmd.Flags().BoolVar(&o.All, "all", false, "list every finding (default: at most 20 of each kind)")
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runValidate(o *ValidateOptions) error {
	summary, findings, err := validate(o)
	if o.JSON {
		problems := append(problemsOf(err), notesOf(findings)...)
		if werr := writeJSON(o.IO.Out, problems); werr != nil {
			return werr
		}
		if err != nil {
			return &ExitError{Code: ExitCode(BadInput(err)), Err: ErrSilent}
		}
		return nil
	}
	if err != nil {
		return BadInput(err)
	}
	limit := 20
	if o.All {
		limit = 0
	}
	if err := writeRedacted(o.IO.ErrOut, func(w io.Writer) error { return workspace.WriteFindings(w, findings, limit) }); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.ErrOut, summary)
	return nil
}

// validate checks the workspace (no paths) or the job files given; the summary says what
// was checked.
func validate(o *ValidateOptions) (summary string, findings []workspace.Finding, err error) {
	if len(o.Paths) == 0 {
		ws, err := o.F.Workspace()
		if err != nil {
			return "", nil, err
		}
		if _, err := convert.FromWorkspace(ws, nil, convert.Options{}); err != nil {
			return "", ws.Findings, err
		}
		return fmt.Sprintf("workspace %s: %d services, %d profiles: ok", ws.Root, len(ws.Services), len(ws.Profiles)), ws.Findings, nil
	}
	jobs, err := jobSchema(o.F).LoadPaths(o.Paths)
	if err != nil {
		return "", nil, err
	}
	if _, err := convert.FromJobs(jobs, convert.Options{}); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%d jobs: ok", len(jobs)), nil, nil
}

// jobSchema is the schema job files given on the command line are read with: the
// workspace's (clocal.yaml schema:) when run inside one that loads, else the built-in one.
func jobSchema(f *Factory) *job.Schema {
	if f.WorkspaceDir == "" && os.Getenv(workspace.EnvVar) == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return job.Builtin()
		}
		if _, err := workspace.Find(cwd); err != nil {
			return job.Builtin()
		}
	}
	if ws, err := f.Workspace(); err == nil && ws.Schema != nil {
		return ws.Schema
	}
	return job.Builtin()
}
