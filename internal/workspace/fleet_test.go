package workspace_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// loadFleet writes a generated fleet and loads it.
func loadFleet(t testing.TB, o fleet.Options) (*fleet.Fleet, *workspace.Workspace) {
	t.Helper()
	f := fleet.Generate(o)
	dir := t.TempDir()
	if err := f.Write(dir); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Load(dir)
	if err != nil {
		t.Fatalf("fleet %+v: %v", o, err)
	}
	return f, ws
}

// serviceOf is the local service running a production job.
func serviceOf(t testing.TB, ws *workspace.Workspace, job string) string {
	t.Helper()
	s := ws.Lookup(job)
	if len(s) != 1 {
		t.Fatalf("job %s runs in %v", job, s)
	}
	return s[0]
}

// TestFleetProperties: over generated fleets (shared ports on many hosts, sidecars on
// localhost, replicas on another port, per-host and per-cluster files, a production .proto),
// clocal's model equals the ground truth of the generator:
//   - the dependency edges are exactly the services of the jobs each address reaches, so the
//     closure of every service is the closure over port-specific references;
//   - the namespace groups are exactly the components of localhost references: no group
//     joins services without one;
//   - every job runs in the service of its app (its folder's, matched or by image name).
func TestFleetProperties(t *testing.T) {
	for _, o := range []fleet.Options{
		{Apps: 16, Hosts: 5, Seed: 1, Sidecars: 0.3, PortVariants: 0.3},
		{Apps: 60, Hosts: 12, Seed: 2, Cycles: true},
		{Apps: 300, Hosts: 100, Seed: 3},
		{Apps: 300, Hosts: 120, Seed: 4, MaxReplicas: 4, Sidecars: 0.2, PortVariants: 0.2, Cycles: true},
		{Apps: 1000, Hosts: 300, Seed: 5},
		// a per-host agent every host runs on one port, reached over localhost by the jobs
		// of most apps, replicated ones included (QA-7), with sidecars and replicas on
		// another port
		// (and hosts written short in run_on_host and full in values, and vice versa: QA-18)
		{Apps: 40, Hosts: 8, Seed: 6, Agents: 0.6, Sidecars: 0.2, PortVariants: 0.3, FQDN: true},
		{Apps: 300, Hosts: 90, Seed: 7, Agents: 0.3, MaxReplicas: 4, Sidecars: 0.2, PortVariants: 0.2, Cycles: true},
		{Apps: 1000, Hosts: 300, Seed: 8, Agents: 0.5, FQDN: true},
	} {
		t.Run(fmt.Sprintf("apps=%d,hosts=%d,seed=%d", o.Apps, o.Hosts, o.Seed), func(t *testing.T) {
			f, ws := loadFleet(t, o)

			// jobs -> services: one service per app, or per variant of it
			for _, a := range f.Apps {
				folder := a.Name
				if a.Folder != "" {
					folder = a.Folder
				}
				for _, j := range a.Jobs {
					svc := ws.Services[serviceOf(t, ws, j.Name)]
					if svc.Folder != folder || svc.Prebuilt != true {
						t.Errorf("job %s runs in %s (folder %q, prebuilt %v), want folder %s", j.Name, svc.Name, svc.Folder, svc.Prebuilt, folder)
					}
					if !containsInt(svc.Ports, j.Port) {
						t.Errorf("job %s listens on %d, its service %s on %v", j.Name, j.Port, svc.Name, svc.Ports)
					}
				}
			}

			// edges: exactly the ground truth
			want := map[[2]string]bool{}
			local := map[[2]string]bool{}
			for _, j := range f.Jobs {
				from := serviceOf(t, ws, j.Name)
				for _, r := range j.Refs {
					if r.Target == nil {
						continue
					}
					to := serviceOf(t, ws, r.Target.Name)
					if to == from {
						continue
					}
					want[[2]string{from, to}] = true
					if r.Local {
						local[[2]string{from, to}] = true
					}
				}
			}
			got := map[[2]string]bool{}
			for _, e := range ws.Edges {
				got[[2]string{e.From, e.To}] = true
				if e.Kind == workspace.Declared {
					t.Errorf("declared edge %v in a fleet without depends_on", e)
				}
				if (e.Kind == workspace.Localhost) != local[[2]string{e.From, e.To}] {
					t.Errorf("edge %v: kind %s, ground truth localhost=%v", e, e.Kind, local[[2]string{e.From, e.To}])
				}
			}
			for e := range want {
				if !got[e] {
					t.Errorf("missing edge %s -> %s", e[0], e[1])
				}
			}
			for e := range got {
				if !want[e] {
					t.Errorf("edge %s -> %s has no address behind it", e[0], e[1])
				}
			}

			// closures, from the ground truth
			adj := map[string][]string{}
			for e := range want {
				adj[e[0]] = append(adj[e[0]], e[1])
			}
			for _, name := range ws.ServiceNames() {
				seen := map[string]bool{}
				stack := []string{name}
				for len(stack) > 0 {
					n := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					if !seen[n] {
						seen[n] = true
						stack = append(stack, adj[n]...)
					}
				}
				var closure []string
				for n := range seen {
					closure = append(closure, n)
				}
				sort.Strings(closure)
				if got := ws.Closure([]string{name}); !reflect.DeepEqual(got, closure) {
					t.Errorf("closure of %s:\n got %v\nwant %v", name, got, closure)
				}
			}

			// namespace groups: the components of localhost references
			parent := map[string]string{}
			var find func(string) string
			find = func(x string) string {
				if p, ok := parent[x]; ok && p != x {
					r := find(p)
					parent[x] = r
					return r
				}
				return x
			}
			for e := range local {
				a, b := find(e[0]), find(e[1])
				if a != b {
					parent[a] = b
				}
			}
			comp := map[string][]string{}
			for _, n := range ws.ServiceNames() {
				comp[find(n)] = append(comp[find(n)], n)
			}
			var wantGroups, gotGroups []string
			for _, members := range comp {
				wantGroups = append(wantGroups, strings.Join(members, ","))
			}
			shared := 0
			for _, g := range ws.Groups {
				gotGroups = append(gotGroups, strings.Join(g.Members, ","))
				if len(g.Members) > 1 {
					shared++
					if !g.Pause {
						t.Errorf("group %s of %v has no pause owner", g.Name, g.Members)
					}
				}
			}
			sort.Strings(wantGroups)
			sort.Strings(gotGroups)
			if !reflect.DeepEqual(gotGroups, wantGroups) {
				t.Errorf("groups:\n got %v\nwant %v", gotGroups, wantGroups)
			}
			// every job runs locally in a namespace holding exactly its production
			// namespace: the services of the jobs of its host it reaches, or that reach it,
			// over localhost (transitively) - no more (no agent of another host, no port
			// clash), no less
			jparent := map[*fleet.Job]*fleet.Job{}
			var jfind func(*fleet.Job) *fleet.Job
			jfind = func(x *fleet.Job) *fleet.Job {
				if p, ok := jparent[x]; ok && p != x {
					r := jfind(p)
					jparent[x] = r
					return r
				}
				return x
			}
			for _, j := range f.Jobs {
				for _, r := range j.Refs {
					if r.Local && r.Target != nil {
						if a, b := jfind(j), jfind(r.Target); a != b {
							jparent[a] = b
						}
					}
				}
			}
			prodNS := map[*fleet.Job][]string{}
			for _, j := range f.Jobs {
				root := jfind(j)
				prodNS[root] = append(prodNS[root], serviceOf(t, ws, j.Name))
			}
			agentSplits := 0
			for _, j := range f.Jobs {
				want := uniq(prodNS[jfind(j)])
				g := ws.GroupOf(serviceOf(t, ws, j.Name))
				if got := strings.Join(g.Members, ","); got != strings.Join(want, ",") {
					t.Errorf("job %s on %s runs in namespace %s = %s, production's is %v", j.Name, j.Host, g.Name, got, want)
				}
				if j.App.Name == "statsd-agent" && len(ws.Lookup(j.App.Name)) > 1 {
					agentSplits++
				}
			}
			// replicated apps reaching the agent from hosts that differ are split by host
			// kind: the QA-7 shape is in the fleet
			replicatedUsers := 0
			for _, a := range f.Apps {
				hosts := map[string]bool{}
				for _, j := range a.Jobs {
					for _, r := range j.Refs {
						if r.Local && r.Target != nil && r.Target.App.Name == "statsd-agent" {
							hosts[j.Host] = true
						}
					}
				}
				if len(hosts) > 1 && len(ws.Lookup(a.Name)) > 1 {
					replicatedUsers++
				}
			}
			if o.Agents > 0 && (agentSplits == 0 || replicatedUsers == 0) {
				t.Errorf("the agent runs as %d instance(s), %d replicated apps reaching it are split: the test proves nothing", len(ws.Lookup("statsd-agent")), replicatedUsers)
			}
			if o.Sidecars > 0.1 && shared == 0 {
				t.Errorf("no shared namespace in a fleet with sidecars: the test proves nothing")
			}
			t.Logf("%d services from %d jobs, %d edges (%d localhost), %d shared namespaces, %d findings", len(ws.Services), len(f.Jobs), len(ws.Edges), len(local), shared, len(ws.Findings))
		})
	}
}

func uniq(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return slices.Compact(s)
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
