package workspace

import (
	"fmt"
	"io"
	"strings"
)

// Graph is the dependency graph of a selection (or of the whole workspace), for `clocal graph`.
type Graph struct {
	Nodes []GraphNode // in start order (dependencies first)
	Edges []Edge      // sorted by From, To, Kind
}

// GraphNode is one local service.
type GraphNode struct {
	Name      string
	Jobs      []string
	Hosts     []string
	Requested bool // named by a target (false: pulled in as a dependency)
}

// Graph returns the graph of the closure of targets (every service when targets is empty).
func (ws *Workspace) Graph(targets []string) (*Graph, error) {
	sel, err := ws.Resolve(targets)
	if err != nil {
		return nil, err
	}
	req := map[string]bool{}
	for _, r := range sel.Requested {
		req[r] = true
	}
	g := &Graph{Edges: sel.Edges}
	for _, name := range sel.Services {
		s := ws.Services[name]
		g.Nodes = append(g.Nodes, GraphNode{Name: name, Jobs: s.JobNames(), Hosts: s.Hosts, Requested: req[name] && len(targets) > 0})
	}
	return g, nil
}

// WriteText writes one block per service (dependencies first) listing its edges and sources:
//
//	repo-manager  jobs: repo-manager-1, repo-manager-2  hosts: git-1, git-2  [target]
//	  -> kvstore   declared  services/repo-manager/service.yaml:5
//	  -> markdown  inferred  services/repo-manager/repo-manager.job:12:3 (env markdown_addr=svc-1:9300)
func (g *Graph) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "%s  jobs: %s  hosts: %s", n.Name, strings.Join(n.Jobs, ", "), strings.Join(n.Hosts, ", "))
		if n.Requested {
			b.WriteString("  [target]")
		}
		b.WriteByte('\n')
		width := 0
		for _, e := range g.Edges {
			if e.From == n.Name && len(e.To) > width {
				width = len(e.To)
			}
		}
		for _, e := range g.Edges {
			if e.From != n.Name {
				continue
			}
			fmt.Fprintf(&b, "  -> %-*s  %s  %s", width, e.To, e.Kind, e.Reason())
			if e.Cyclic {
				b.WriteString("  (closes a cycle: no start order)")
			}
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WriteDOT writes the graph in Graphviz DOT. Inferred edges are dashed, cyclic ones red; the
// edge tooltip is its source.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph clocal {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range g.Nodes {
		label := n.Name
		if len(n.Hosts) > 0 {
			label += "\n" + strings.Join(n.Hosts, ", ")
		}
		fmt.Fprintf(&b, "  %s [label=%s", dotQuote(n.Name), dotQuote(label))
		if n.Requested {
			b.WriteString(", style=bold")
		}
		b.WriteString("];\n")
	}
	for _, e := range g.Edges {
		label := string(e.Kind)
		if e.Addr != "" {
			label = e.Addr
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s, tooltip=%s", dotQuote(e.From), dotQuote(e.To), dotQuote(label), dotQuote(e.Reason()))
		if e.Kind != Declared {
			b.WriteString(", style=dashed")
		}
		if e.Cyclic {
			b.WriteString(", color=red")
		}
		b.WriteString("];\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes the graph as a Mermaid flowchart: declared edges solid, inferred dotted.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := map[string]string{}
	for i, n := range g.Nodes {
		id[n.Name] = fmt.Sprintf("n%d", i)
		label := strings.ReplaceAll(n.Name, `"`, "#quot;")
		if n.Requested {
			fmt.Fprintf(&b, "  %s[[\"%s\"]]\n", id[n.Name], label)
		} else {
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", id[n.Name], label)
		}
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Kind != Declared {
			arrow = "-.->"
		}
		label := string(e.Kind)
		if e.Addr != "" {
			label = strings.NewReplacer(`"`, "#quot;", "|", "#124;").Replace(e.Addr)
		}
		if e.Cyclic {
			label += ", cyclic"
		}
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", id[e.From], arrow, label, id[e.To])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
