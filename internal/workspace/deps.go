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
	// Inferred edges come from a production env value naming another service's job or host.
	Inferred EdgeKind = "inferred"
)

// Edge is a dependency: From needs To.
type Edge struct {
	From, To string
	Kind     EdgeKind
	// Source is where the edge comes from: "services/x/service.yaml:5" for a declared edge,
	// "services/x/x.job:12:3 (env markdown_addr=svc-1:9300)" for an inferred one.
	Source string
	// Cyclic marks an inferred edge that would close a dependency cycle: it still pulls To into
	// the closure, but gives no start order (compose depends_on refuses cycles).
	Cyclic bool
}

func (e Edge) String() string {
	s := fmt.Sprintf("%s -> %s (%s: %s)", e.From, e.To, e.Kind, e.Source)
	if e.Cyclic {
		s += " [cyclic: no start order]"
	}
	return s
}

// hostTokens returns the host names a value may refer to: the host part of URLs
// (scheme://user@host:port/path), host:port, and bare names, in comma/space/semicolon separated
// lists. Tokens are whole names, never substrings ("git-10" never yields "git-1").
func hostTokens(value string) []string {
	var out []string
	fields := strings.FieldsFunc(value, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '"' || r == '\''
	})
	for _, f := range fields {
		// key=value inside a value (e.g. "host=db-1 port=5432")
		if i := strings.LastIndexByte(f, '='); i >= 0 && !strings.Contains(f, "://") {
			f = f[i+1:]
		}
		if i := strings.Index(f, "://"); i >= 0 {
			f = f[i+3:]
		}
		if i := strings.IndexAny(f, "/?#"); i >= 0 {
			f = f[:i]
		}
		if i := strings.LastIndexByte(f, '@'); i >= 0 {
			f = f[i+1:]
		}
		if strings.HasPrefix(f, "[") { // IPv6 literal
			continue
		}
		if i := strings.IndexByte(f, ':'); i >= 0 {
			f = f[:i]
		}
		f = strings.TrimSuffix(f, ".")
		if f == "" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (l *loader) buildEdges(ws *Workspace) {
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
	// inferred: names that can appear as host tokens are job names and production hosts
	tokens := map[string][]string{}
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		for _, j := range s.Jobs {
			tokens[j.Name] = appendUnique(tokens[j.Name], name)
			if j.RunOnHost != "" {
				tokens[j.RunOnHost] = appendUnique(tokens[j.RunOnHost], name)
			}
		}
	}
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		for _, j := range s.Jobs {
			for _, e := range j.Envs {
				for _, tok := range hostTokens(e.Value) {
					for _, t := range tokens[tok] {
						if t == name {
							continue
						}
						edges = append(edges, Edge{From: name, To: t, Kind: Inferred,
							Source: fmt.Sprintf("%s (env %s=%s)", e.Pos, e.Key, e.Value)})
					}
				}
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
	// inferred edges closing a cycle are kept for the closure but give no order
	ordered := declared
	for i := range edges {
		e := &edges[i]
		if e.Kind != Inferred || contains(ordered[e.From], e.To) {
			continue
		}
		if p := shortestPath(ordered, e.To, e.From); p != nil {
			e.Cyclic = true
			cycle := append([]string{e.From, e.To}, p...)
			l.warn = append(l.warn, fmt.Sprintf("dependency cycle: %s; the inferred edge %s -> %s gives no start order (%s)",
				strings.Join(cycle, " -> "), e.From, e.To, e.Source))
			continue
		}
		ordered[e.From] = appendUnique(ordered[e.From], e.To)
	}
	ws.Edges = edges
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
	var out [][]string
	for _, c := range sccs {
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

// Resolve resolves targets (profile, service, folder, job or host names; a profile wins over a
// service of the same name) to the services to start. No target selects every service.
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
	adj := map[string][]string{}
	for _, e := range ws.Edges {
		adj[e.From] = append(adj[e.From], e.To)
	}
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
	var out []string
	for _, e := range ws.Edges {
		if e.From == name && !e.Cyclic {
			out = appendUnique(out, e.To)
		}
	}
	sort.Strings(out)
	return out
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
