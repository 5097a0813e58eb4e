package workspace

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// EdgeKind says where a dependency comes from.
type EdgeKind string

const (
	// Declared edges come from depends_on in service.yaml.
	Declared EdgeKind = "declared"
	// Inferred edges come from a production env value holding the address (host:port, job
	// name:port) of another service's job.
	Inferred EdgeKind = "inferred"
	// Localhost edges come from a production env value holding localhost:PORT, reaching the
	// job on the caller's own host that listens on PORT: both share a network namespace.
	Localhost EdgeKind = "localhost"
)

// Edge is a dependency: From needs To.
type Edge struct {
	From, To string
	Kind     EdgeKind
	// Source is where the edge comes from: "services/x/service.yaml:5" for a declared edge,
	// "services/x/x.job:12:3 env markdown_addr" for an inferred one.
	Source string
	// Addr is the address as production wrote it ("md-1:9300", "localhost:8481") and Job the
	// job listening there (inferred and localhost edges).
	Addr, Job string
	// Cyclic marks an inferred edge that would close a dependency cycle: it still pulls To into
	// the closure, but gives no start order (compose depends_on refuses cycles).
	Cyclic bool
}

// Reason says why the edge exists: "md-1:9300 = job markdown-renderer-1 (services/x/x.job:12:3 env markdown_addr)".
func (e Edge) Reason() string {
	if e.Addr == "" {
		return e.Source
	}
	return fmt.Sprintf("%s = job %s (%s)", e.Addr, e.Job, e.Source)
}

func (e Edge) String() string {
	s := fmt.Sprintf("%s -> %s (%s: %s)", e.From, e.To, e.Kind, e.Reason())
	if e.Cyclic {
		s += " [cyclic: no start order]"
	}
	return s
}

func (l *loader) buildEdges(ws *Workspace, m *model) {
	var edges []Edge
	reported := map[string]bool{} // folder: declared errors reported once per folder
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		first := !reported[s.Folder]
		reported[s.Folder] = true
		for i, dep := range s.File.DependsOn {
			line := s.Line(fmt.Sprintf("depends_on[%d]", i))
			targets := ws.Lookup(dep)
			if targets == nil {
				if first {
					l.errorf(s.FilePath, line, "depends_on[%d]: unknown service %q%s", i, dep, didYouMean(dep, ws.names()))
				}
				continue
			}
			for _, t := range targets {
				if t == name {
					if len(targets) == 1 && first && len(ws.Lookup(s.Folder)) == 1 {
						l.errorf(s.FilePath, line, "depends_on[%d]: %q is the service itself", i, dep)
					}
					continue
				}
				edges = append(edges, Edge{From: name, To: t, Kind: Declared, Source: fmt.Sprintf("%s:%d", s.FilePath, line)})
			}
		}
	}
	// inferred: every address of every job's env values, resolved by the model
	for _, ji := range m.jobs {
		if ji.svc == "" {
			continue
		}
		for _, r := range ji.refs {
			kind := Inferred
			if r.local {
				kind = Localhost
			}
			for _, t := range r.to {
				if t.svc == ji.svc || t.svc == "" {
					continue
				}
				edges = append(edges, Edge{From: ji.svc, To: t.svc, Kind: kind, Addr: r.addr.Text, Job: t.j.Name,
					Source: fmt.Sprintf("%s env %s", relPos(l.root, r.env.Pos), r.env.Key)})
			}
		}
	}
	edges = dedupeEdges(edges)

	// declared cycles are errors
	declared := map[string][]string{}
	for _, e := range edges {
		if e.Kind == Declared {
			declared[e.From] = appendUnique(declared[e.From], e.To)
		}
	}
	if cycles := findCycles(ws.ServiceNames(), declared); len(cycles) > 0 {
		src := map[[2]string]string{}
		for _, e := range edges {
			if e.Kind == Declared {
				if _, ok := src[[2]string{e.From, e.To}]; !ok {
					src[[2]string{e.From, e.To}] = e.Source
				}
			}
		}
		for _, c := range cycles {
			var at []string
			for i := 0; i+1 < len(c); i++ {
				at = append(at, fmt.Sprintf("%s -> %s at %s", c[i], c[i+1], src[[2]string{c[i], c[i+1]}]))
			}
			l.errs = append(l.errs, fmt.Errorf("dependency cycle: %s (%s)", strings.Join(c, " -> "), strings.Join(at, "; ")))
		}
		ws.Edges = edges
		return
	}
	// inferred edges closing a cycle are kept for the closure but give no order; a cycle
	// can only close inside a strongly connected component, so only edges inside one are
	// checked (the rest of a 1,000-service graph costs nothing).
	comp := components(ws.ServiceNames(), edges)
	ordered := declared
	for i := range edges {
		e := &edges[i]
		if e.Kind == Declared || contains(ordered[e.From], e.To) {
			continue
		}
		if comp[e.From] == comp[e.To] {
			if p := shortestPath(ordered, e.To, e.From); p != nil {
				e.Cyclic = true
				cycle := append([]string{e.From, e.To}, p...)
				l.notes.add(FindCycle, strings.Join(cycle, " -> "), nil, nil,
					fmt.Sprintf("the edge %s -> %s (%s) gives no start order", e.From, e.To, e.Reason()))
				continue
			}
		}
		ordered[e.From] = appendUnique(ordered[e.From], e.To)
	}
	ws.Edges = edges
	ws.indexEdges()
}

// components returns the strongly connected component of every service over edges.
func components(nodes []string, edges []Edge) map[string]int {
	g := map[string][]string{}
	for _, e := range edges {
		g[e.From] = append(g[e.From], e.To)
	}
	comp := map[string]int{}
	for i, c := range sccs(nodes, g) {
		for _, n := range c {
			comp[n] = i + 1
		}
	}
	for i, n := range nodes {
		if comp[n] == 0 {
			comp[n] = -(i + 1) // alone: its own component
		}
	}
	return comp
}

// indexEdges builds the adjacency used by Closure, DependsOn and order.
func (ws *Workspace) indexEdges() {
	ws.adj = map[string][]string{}
	ws.deps = map[string][]string{}
	for _, e := range ws.Edges {
		ws.adj[e.From] = append(ws.adj[e.From], e.To)
		if !e.Cyclic {
			ws.deps[e.From] = appendUnique(ws.deps[e.From], e.To)
		}
	}
	for k := range ws.deps {
		sort.Strings(ws.deps[k])
	}
}

// dedupeEdges keeps the first edge per (From, To, Kind) and sorts by From, To, Kind.
func dedupeEdges(edges []Edge) []Edge {
	sort.SliceStable(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Kind < b.Kind
	})
	out := edges[:0]
	for i, e := range edges {
		if i > 0 && e.From == out[len(out)-1].From && e.To == out[len(out)-1].To && e.Kind == out[len(out)-1].Kind {
			continue
		}
		out = append(out, e)
	}
	return out
}

func appendUnique(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

// shortestPath returns a shortest path from -> ... -> to in g (excluding from, including to), or nil.
func shortestPath(g map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		next := append([]string(nil), g[n]...)
		sort.Strings(next)
		for _, m := range next {
			if m == to {
				prev[m] = n
				if m == from { // a cycle back to the start
					p := []string{m}
					for x := n; x != from; x = prev[x] {
						p = append([]string{x}, p...)
					}
					return p
				}
				var p []string
				for x := m; x != from; x = prev[x] {
					p = append([]string{x}, p...)
				}
				return p
			}
			if _, seen := prev[m]; seen {
				continue
			}
			prev[m] = n
			queue = append(queue, m)
		}
	}
	return nil
}

// findCycles returns one cycle per strongly connected component with more than one node, each
// as a closed path starting and ending at the component's smallest name.
func findCycles(nodes []string, g map[string][]string) [][]string {
	var out [][]string
	for _, c := range sccs(nodes, g) {
		in := map[string]bool{}
		for _, x := range c {
			in[x] = true
		}
		sub := map[string][]string{}
		for _, x := range c {
			for _, y := range g[x] {
				if in[y] {
					sub[x] = append(sub[x], y)
				}
			}
		}
		out = append(out, append([]string{c[0]}, shortestPath(sub, c[0], c[0])...))
	}
	return out
}

// sccs returns the strongly connected components of g with more than one node, each sorted,
// sorted by first name (Tarjan).
func sccs(nodes []string, g map[string][]string) [][]string {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var sccs [][]string
	n := 0
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g[v] {
			if _, ok := index[w]; !ok {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var c []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				c = append(c, w)
				if w == v {
					break
				}
			}
			if len(c) > 1 {
				sort.Strings(c)
				sccs = append(sccs, c)
			}
		}
	}
	for _, v := range nodes {
		if _, ok := index[v]; !ok {
			strong(v)
		}
	}
	sort.Slice(sccs, func(i, j int) bool { return sccs[i][0] < sccs[j][0] })
	return sccs
}

// Selection is what a set of targets resolves to.
type Selection struct {
	Targets   []string
	Profiles  []string // targets that named a profile, in target order
	Requested []string // services the targets name directly or through profiles, sorted
	// Services is the transitive closure of Requested over every edge (cyclic ones included),
	// dependencies first (topological over non-cyclic edges, ties by name).
	Services []string
	// Edges are the edges between services of the closure.
	Edges []Edge
	// Overrides is, per service, the merged overrides of the selected profiles (later targets win).
	Overrides map[string]Override
}

// AllTarget names every service when no profile, service, job or host has that name.
const AllTarget = "all"

// Resolve resolves targets (profile, service, folder, job or host names; a profile wins over a
// service of the same name; "all" is every service unless something is named so) to the
// services to start. No target selects every service.
// Unknown targets are all reported, with suggestions.
func (ws *Workspace) Resolve(targets []string) (*Selection, error) {
	sel := &Selection{Targets: targets, Overrides: map[string]Override{}}
	requested := map[string]bool{}
	var errs []error
	candidates := append(ws.names(), ws.ProfileNames()...)
	sort.Strings(candidates)
	if len(targets) == 0 {
		for name := range ws.Services {
			requested[name] = true
		}
	}
	for _, t := range targets {
		if p, ok := ws.Profiles[t]; ok {
			sel.Profiles = append(sel.Profiles, t)
			for _, s := range p.Services {
				for _, name := range ws.Lookup(s) {
					requested[name] = true
				}
			}
			for _, name := range sortedKeys(p.resolved) {
				o := sel.Overrides[name]
				o.Env = mergeEnv(o.Env, p.resolved[name].Env)
				sel.Overrides[name] = o
			}
			continue
		}
		svcs := ws.Lookup(t)
		if svcs == nil && t == AllTarget {
			svcs = ws.ServiceNames() // "all": every service, unless something is named so
		}
		if svcs == nil {
			errs = append(errs, fmt.Errorf("unknown target %q%s", t, didYouMean(t, candidates)))
			continue
		}
		for _, name := range svcs {
			requested[name] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sel.Requested = sortedKeys(requested)
	sel.Services = ws.order(ws.Closure(sel.Requested))
	in := map[string]bool{}
	for _, s := range sel.Services {
		in[s] = true
	}
	for _, e := range ws.Edges {
		if in[e.From] && in[e.To] {
			sel.Edges = append(sel.Edges, e)
		}
	}
	return sel, nil
}

// Closure returns the services reachable from names over every edge (cyclic ones included),
// names included, sorted.
func (ws *Workspace) Closure(names []string) []string {
	adj := ws.adj
	seen := map[string]bool{}
	stack := append([]string(nil), names...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, adj[n]...)
	}
	return sortedKeys(seen)
}

// DependsOn returns the services name must start after: the targets of its non-cyclic edges,
// sorted and without duplicates.
func (ws *Workspace) DependsOn(name string) []string {
	return ws.deps[name]
}

type strHeap []string

func (h strHeap) Len() int           { return len(h) }
func (h strHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h strHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *strHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *strHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// order sorts services dependencies first (Kahn over non-cyclic edges, smallest name first).
func (ws *Workspace) order(services []string) []string {
	in := map[string]bool{}
	for _, s := range services {
		in[s] = true
	}
	indeg := map[string]int{}
	dependents := map[string][]string{}
	for _, s := range services {
		for _, d := range ws.DependsOn(s) {
			if in[d] {
				indeg[s]++
				dependents[d] = append(dependents[d], s)
			}
		}
	}
	h := &strHeap{}
	for _, s := range services {
		if indeg[s] == 0 {
			heap.Push(h, s)
		}
	}
	var out []string
	for h.Len() > 0 {
		s := heap.Pop(h).(string)
		out = append(out, s)
		for _, d := range dependents[s] {
			indeg[d]--
			if indeg[d] == 0 {
				heap.Push(h, d)
			}
		}
	}
	return out
}
