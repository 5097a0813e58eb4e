package cli

import (
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/convert"
)

// ConvertOptions are the flags of `clocal convert`.
type ConvertOptions struct {
	IO          *IOStreams
	F           *Factory
	Paths       []string
	Ephemeral   bool
	BindAddress string
}

// NewCmdConvert creates `clocal convert PATH...`.
func NewCmdConvert(f *Factory, runF func(*ConvertOptions) error) *cobra.Command {
	o := &ConvertOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "convert PATH...",
		Short: "Print the compose project for production job files",
		Long: `Print a compose YAML project for the jobs in the given job files or folders: one service
per job, named by the job name, production images kept, host networking turned into a
project network, ports published on 127.0.0.1 only, host paths turned into named volumes.`,
		Example: `  clocal convert services/repo-manager/repo-manager.job
  clocal convert /etc/jobs/ > compose.yaml && docker compose -f compose.yaml config`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			if runF != nil {
				return runF(o)
			}
			return runConvert(o)
		},
	}
	cmd.Flags().BoolVar(&o.Ephemeral, "ephemeral-ports", false, "let the daemon pick host ports (127.0.0.1::PORT)")
	cmd.Flags().StringVar(&o.BindAddress, "bind", convert.DefaultBindAddress, "host address ports are published on")
	return cmd
}

func runConvert(o *ConvertOptions) error {
	jobs, err := jobSchema(o.F).LoadPaths(o.Paths)
	if err != nil {
		return BadInput(err)
	}
	plan, err := convert.FromJobs(jobs, convert.Options{EphemeralPorts: o.Ephemeral, BindAddress: o.BindAddress})
	if err != nil {
		return BadInput(err)
	}
	for _, w := range plan.Warnings {
		o.IO.ErrOut.Write([]byte("warning: " + w + "\n"))
	}
	yaml, err := plan.YAML()
	if err != nil {
		return err
	}
	_, err = o.IO.Out.Write(yaml)
	return err
}
