package ui

import (
	"fmt"
	"html"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Graph layout: services in columns by dependency depth, read left to right (a service, then
// what it depends on), ordered inside a column to keep edges short (barycenters over a few
// sweeps). Drawn as plain SVG: every node is a <g class="node" data-service=…> the page
// colours by state, every edge a <g class="edge"> whose <title> (the hover text) says why
// the dependency exists.
const (
	nodeH    = 34
	rowGap   = 18
	colGap   = 90
	margin   = 16
	charW    = 7.4 // average width of a character of the page's 12px monospace font
	nodePadX = 30
)

type placed struct {
	name       string
	col, row   int
	x, y, w, h float64
	requested  bool
	hosts      []string
}

// graphKey identifies a graph's drawing (nodes and edges), to redraw only on change.
func graphKey(g *workspace.Graph) string {
	var b strings.Builder
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "%s|%v|%s;", n.Name, n.Requested, strings.Join(n.Hosts, ","))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "%s>%s|%s|%s|%v;", e.From, e.To, e.Kind, e.Reason(), e.Cyclic)
	}
	return b.String()
}

// layout assigns columns and rows.
func layout(g *workspace.Graph) (map[string]*placed, [][]*placed) {
	nodes := map[string]*placed{}
	for _, n := range g.Nodes {
		nodes[n.Name] = &placed{name: n.Name, requested: n.Requested, hosts: n.Hosts}
	}
	// Column = longest chain of dependents above a node. g.Nodes is in start order
	// (dependencies first), so walking it backwards sees every dependent of a node first.
	dependents := map[string][]string{}
	for _, e := range g.Edges {
		if !e.Cyclic {
			dependents[e.To] = append(dependents[e.To], e.From)
		}
	}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := nodes[g.Nodes[i].Name]
		for _, d := range dependents[n.name] {
			if from, ok := nodes[d]; ok && from.col+1 > n.col {
				n.col = from.col + 1
			}
		}
	}
	ncols := 0
	for _, n := range nodes {
		if n.col+1 > ncols {
			ncols = n.col + 1
		}
	}
	cols := make([][]*placed, ncols)
	for _, gn := range g.Nodes {
		n := nodes[gn.Name]
		cols[n.col] = append(cols[n.col], n)
	}
	for _, c := range cols {
		sort.SliceStable(c, func(i, j int) bool { return c[i].name < c[j].name })
		for i, n := range c {
			n.row = i
		}
	}
	// Barycenter sweeps: order each column by the mean row of its neighbours.
	neighbours := map[string][]string{}
	for _, e := range g.Edges {
		neighbours[e.From] = append(neighbours[e.From], e.To)
		neighbours[e.To] = append(neighbours[e.To], e.From)
	}
	for sweep := 0; sweep < 4; sweep++ {
		order := make([]int, 0, ncols)
		for c := 1; c < ncols; c++ {
			order = append(order, c)
		}
		if sweep%2 == 1 {
			order = order[:0]
			for c := ncols - 2; c >= 0; c-- {
				order = append(order, c)
			}
		}
		for _, c := range order {
			prev := c - 1
			if sweep%2 == 1 {
				prev = c + 1
			}
			bary := map[string]float64{}
			for _, n := range cols[c] {
				sum, cnt := 0.0, 0
				for _, m := range neighbours[n.name] {
					if o, ok := nodes[m]; ok && o.col == prev {
						sum += float64(o.row)
						cnt++
					}
				}
				if cnt > 0 {
					bary[n.name] = sum / float64(cnt)
				} else {
					bary[n.name] = float64(n.row)
				}
			}
			sort.SliceStable(cols[c], func(i, j int) bool { return bary[cols[c][i].name] < bary[cols[c][j].name] })
			for i, n := range cols[c] {
				n.row = i
			}
		}
	}
	// Coordinates: columns as wide as their widest node, each column centred vertically.
	maxRows := 0
	for _, c := range cols {
		if len(c) > maxRows {
			maxRows = len(c)
		}
	}
	height := float64(maxRows)*(nodeH+rowGap) - rowGap
	x := float64(margin)
	for _, c := range cols {
		w := 0.0
		for _, n := range c {
			n.w = float64(len(n.name))*charW + nodePadX
			if n.w > w {
				w = n.w
			}
		}
		top := margin + (height-(float64(len(c))*(nodeH+rowGap)-rowGap))/2
		for _, n := range c {
			n.w, n.h = w, nodeH
			n.x = x
			n.y = top + float64(n.row)*(nodeH+rowGap)
		}
		x += w + colGap
	}
	return nodes, cols
}

// EdgeReason is the hover text of an edge: why From depends on To.
func EdgeReason(e workspace.Edge) string {
	s := fmt.Sprintf("%s → %s: %s", e.From, e.To, e.Kind)
	if r := e.Reason(); r != "" {
		s += " — " + redact.Text(r)
	}
	if e.Cyclic {
		s += "; closes a cycle: gives no start order"
	}
	return s
}

// RenderGraph draws g as an SVG document fragment.
func RenderGraph(g *workspace.Graph) string {
	if g == nil || len(g.Nodes) == 0 {
		return `<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="200" height="40"><text x="10" y="24" class="empty">no services</text></svg>`
	}
	nodes, cols := layout(g)
	w, h := 0.0, 0.0
	for _, n := range nodes {
		if n.x+n.w > w {
			w = n.x + n.w
		}
		if n.y+n.h > h {
			h = n.y + n.h
		}
	}
	w += margin
	h += margin
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="dependency graph">`, w, h, w, h)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>`)
	esc := html.EscapeString
	for _, e := range g.Edges {
		from, to := nodes[e.From], nodes[e.To]
		if from == nil || to == nil {
			continue
		}
		x1, y1 := from.x+from.w, from.y+from.h/2
		x2, y2 := to.x, to.y+to.h/2
		var d string
		if to.col > from.col {
			dx := (x2 - x1) / 2
			d = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1+dx, y1, x2-dx, y2, x2, y2)
		} else {
			// Same column or backwards (a cycle): loop around below.
			x1, y1 = from.x+from.w/2, from.y+from.h
			x2, y2 = to.x+to.w/2, to.y+to.h
			low := max(y1, y2) + rowGap*1.5
			d = fmt.Sprintf("M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f", x1, y1, x1, low, x2, low, x2, y2)
		}
		cls := "edge " + string(e.Kind)
		if e.Cyclic {
			cls += " cyclic"
		}
		reason := EdgeReason(e)
		fmt.Fprintf(&b, `<g class="%s" data-from="%s" data-to="%s" data-reason="%s"><title>%s</title><path class="hit" d="%s"/><path class="line" d="%s" marker-end="url(#arrow)"/></g>`,
			esc(cls), esc(e.From), esc(e.To), esc(reason), esc(reason), d, d)
	}
	for _, c := range cols {
		for _, n := range c {
			cls := "node"
			if n.requested {
				cls += " requested"
			}
			title := n.name
			if len(n.hosts) > 0 {
				title += " (hosts: " + strings.Join(n.hosts, ", ") + ")"
			}
			fmt.Fprintf(&b, `<g class="%s" data-service="%s" transform="translate(%.1f,%.1f)"><title>%s</title><rect width="%.1f" height="%.1f" rx="6"/><circle class="dot" cx="12" cy="%.1f" r="5"/><text x="22" y="%.1f">%s</text></g>`,
				cls, esc(n.name), n.x, n.y, esc(title), n.w, n.h, n.h/2, n.h/2+4, esc(n.name))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}
