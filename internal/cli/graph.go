package cli

import (
	"io"
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
	JSON    bool
}

// NewCmdGraph creates `clocal graph [TARGET...]`.
func NewCmdGraph(f *Factory, runF func(*GraphOptions) error) *cobra.Command {
	o := &GraphOptions{IO: f.IO, F: f}
	var profiles *profileFlag
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
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runGraph(o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	cmd.Flags().StringVar(&o.Format, "format", "text", "output format: text, dot, mermaid or json")
	addJSONFlag(cmd, &o.JSON)
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text\tone block per service", "dot\tGraphviz", "mermaid\tMermaid flowchart", "json\tnodes and edges"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runGraph(o *GraphOptions) error {
	if o.JSON {
		o.Format = "json"
	}
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
	if err := writeRedacted(o.IO.ErrOut, func(w io.Writer) error {
		return workspace.WriteFindings(w, findings, 20, workspace.FindSplit, workspace.FindAmbiguous, workspace.FindUnresolved, workspace.FindCycle)
	}); err != nil {
		return err
	}
	// Every format goes through redaction: edge sources quote production env values.
	switch o.Format {
	case "text", "":
		return writeRedacted(o.IO.Out, g.WriteText)
	case "dot":
		return writeRedacted(o.IO.Out, g.WriteDOT)
	case "mermaid":
		return writeRedacted(o.IO.Out, g.WriteMermaid)
	case "json":
		return writeRedacted(o.IO.Out, func(w io.Writer) error { return writeJSON(w, graphToJSON(g)) })
	}
	return BadInputf("unknown --format %q (want text, dot, mermaid or json)", o.Format)
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

// graphJSON is `graph --json` (--format json).
type graphJSON struct {
	Nodes []graphNodeJSON `json:"nodes"`
	Edges []graphEdgeJSON `json:"edges"`
}

type graphNodeJSON struct {
	Name      string   `json:"name"`
	Jobs      []string `json:"jobs"`
	Hosts     []string `json:"hosts"`
	Requested bool     `json:"requested"`
}

type graphEdgeJSON struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Kind   string `json:"kind"`              // declared, inferred, localhost
	Source string `json:"source"`            // FILE:LINE[:COL] (env KEY) it comes from
	Addr   string `json:"address,omitempty"` // as production wrote it
	Job    string `json:"job,omitempty"`     // the job listening there
	Cyclic bool   `json:"cyclic,omitempty"`
}

func graphToJSON(g *workspace.Graph) graphJSON {
	out := graphJSON{Nodes: []graphNodeJSON{}, Edges: []graphEdgeJSON{}}
	for _, n := range g.Nodes {
		out.Nodes = append(out.Nodes, graphNodeJSON{Name: n.Name, Jobs: nonNil(n.Jobs), Hosts: nonNil(n.Hosts), Requested: n.Requested})
	}
	for _, e := range g.Edges {
		out.Edges = append(out.Edges, graphEdgeJSON{From: e.From, To: e.To, Kind: string(e.Kind), Source: e.Source, Addr: e.Addr, Job: e.Job, Cyclic: e.Cyclic})
	}
	return out
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
