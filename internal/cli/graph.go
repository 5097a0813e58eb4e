package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/workspace"
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
edges from service files, and edges from job env values holding another job's address as
production wrote it (HOST:PORT or JOB:PORT reaches the job listening on PORT there;
localhost:PORT the job on the caller's own host listening on PORT, which then shares its
network namespace), each with the address, the job it reaches and the file and line it
comes from. Split replicas, addresses that name no single job and cycles are noted once
on stderr.`,
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
	// What the model says once: split replicas, ambiguous addresses, cycles (of the shown
	// services when there are targets), on stderr so the graph itself can be piped.
	findings := ws.Findings
	if len(o.Targets) > 0 {
		apps := map[string]bool{}
		for _, n := range g.Nodes {
			apps[ws.Services[n.Name].Folder] = true
		}
		findings = nil
		for _, f := range ws.Findings {
			if apps[f.App] || f.App == "" && f.Kind == workspace.FindCycle && cycleIn(f.Subject, g) {
				findings = append(findings, f)
			}
		}
	}
	if err := workspace.WriteFindings(o.IO.ErrOut, findings, 20, workspace.FindSplit, workspace.FindAmbiguous, workspace.FindUnresolved, workspace.FindCycle); err != nil {
		return err
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

// cycleIn reports whether a cycle finding ("a -> b -> a") is about services of the graph.
func cycleIn(subject string, g *workspace.Graph) bool {
	for _, n := range g.Nodes {
		if strings.HasPrefix(subject, n.Name+" -> ") {
			return true
		}
	}
	return false
}
