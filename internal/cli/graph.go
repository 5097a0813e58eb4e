package cli

import (
	"github.com/spf13/cobra"
)

// GraphOptions are the flags of `clocal graph`.
type GraphOptions struct {
	IO      *IOStreams
	F       *Factory
	Targets []string
	Format  string
}

// NewCmdGraph creates `clocal graph [TARGET...]`.
func NewCmdGraph(f *Factory, runF func(*GraphOptions) error) *cobra.Command {
	o := &GraphOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "graph [TARGET...]",
		Short: "Show service dependencies and where each edge comes from",
		Long: `Show the dependency graph (of TARGET's closure, or of the whole workspace): declared
edges from service files and edges inferred from job env values that name another job's
host or job name, each with the file and line it comes from.`,
		Example: `  clocal graph repo-manager
  clocal graph --format dot | dot -Tpng > graph.png
  clocal graph --format mermaid`,
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Targets = args
			if runF != nil {
				return runF(o)
			}
			return runGraph(o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "text", "output format: text, dot or mermaid")
	return cmd
}

func runGraph(o *GraphOptions) error {
	ws, err := o.F.Workspace()
	if err != nil {
		return err
	}
	g, err := ws.Graph(o.Targets)
	if err != nil {
		return BadInput(err)
	}
	switch o.Format {
	case "text", "":
		return g.WriteText(o.IO.Out)
	case "dot":
		return g.WriteDOT(o.IO.Out)
	case "mermaid":
		return g.WriteMermaid(o.IO.Out)
	}
	return BadInputf("unknown --format %q (want text, dot or mermaid)", o.Format)
}
