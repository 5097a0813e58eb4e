package convert

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestFleetAddresses: in generated fleets, every address production wrote reaches, in the
// compose project, exactly the service listening there: the name resolves to one service
// (network alias) that is the namespace owner of the target, or a router forwarding that
// port to it; localhost reaches a service of the same namespace. Checked on the full project
// and on the trimmed project of sampled services (which also load through compose-go).
func TestFleetAddresses(t *testing.T) {
	for _, o := range []fleet.Options{
		{Apps: 16, Hosts: 5, Seed: 1, Sidecars: 0.3, PortVariants: 0.3},
		{Apps: 300, Hosts: 100, Seed: 3, Sidecars: 0.2, PortVariants: 0.2, Cycles: true},
		// a per-host agent reached over localhost (QA-7); hosts written short in run_on_host
		// and full in values, and vice versa (QA-18)
		{Apps: 60, Hosts: 12, Seed: 9, Agents: 0.5, Sidecars: 0.2, PortVariants: 0.3, FQDN: true},
	} {
		t.Run(fmt.Sprintf("apps=%d,seed=%d", o.Apps, o.Seed), func(t *testing.T) {
			f := fleet.Generate(o)
			dir := t.TempDir()
			if err := f.Write(dir); err != nil {
				t.Fatal(err)
			}
			ws, err := workspace.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			full, err := FromWorkspace(ws, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkAddresses(t, ws, f, full, nil)
			r := rand.New(rand.NewSource(o.Seed))
			names := ws.ServiceNames()
			for i := 0; i < 20; i++ {
				name := names[r.Intn(len(names))]
				sel, err := ws.Resolve([]string{name})
				if err != nil {
					t.Fatal(err)
				}
				p, err := FromWorkspace(ws, sel, Options{})
				if err != nil {
					t.Fatal(err)
				}
				in := map[string]bool{}
				for _, s := range sel.Services {
					in[s] = true
				}
				checkAddresses(t, ws, f, p, in)
				y, _ := p.YAML()
				if _, err := Load(context.Background(), y, "fleet", dir); err != nil {
					t.Fatalf("trimmed project of %s: %v", name, err)
				}
			}
		})
	}
}

// checkAddresses checks every address of the jobs of the project's services (in: those of a
// trimmed project, nil: all).
func checkAddresses(t *testing.T, ws *workspace.Workspace, f *fleet.Fleet, p *Plan, in map[string]bool) {
	t.Helper()
	carriers := map[string][]string{} // DNS name -> compose services carrying it
	for name, s := range p.file.Services {
		if len(s.Networks) > 0 { // a namespace member (network_mode) has no name of its own
			carriers[name] = append(carriers[name], name)
		}
		for _, n := range s.Networks {
			for _, a := range n.Aliases {
				carriers[a] = append(carriers[a], name)
			}
		}
	}
	svcOf := func(job string) string { return ws.Lookup(job)[0] }
	checked := 0
	for _, j := range f.Jobs {
		from := svcOf(j.Name)
		if in != nil && !in[from] {
			continue
		}
		if ws.Services[from].Jobs[0].Name != j.Name {
			continue // only the first replica of a service runs: its env is the one to check
		}
		for _, r := range j.Refs {
			if r.Target == nil {
				continue
			}
			to := svcOf(r.Target.Name)
			if to == from {
				continue
			}
			owner := p.Owner(to)
			if owner == "" {
				t.Errorf("%s reaches %s (%s=%s), which is not in the project", from, to, r.Key, r.Value)
				continue
			}
			if r.Local {
				if p.Owner(from) != owner {
					t.Errorf("%s: %s=%s: %s runs in namespace %s, %s in %s", j.Name, r.Key, r.Value, from, p.Owner(from), to, owner)
				}
				checked++
				continue
			}
			a := workspace.Addresses(r.Value)[0]
			port := a.Port
			if r.PortValue != "" {
				port, _ = strconv.Atoi(r.PortValue)
			}
			cs := carriers[a.Host]
			if len(cs) != 1 {
				t.Errorf("%s: %s=%s: %q is carried by %v, want exactly one service", j.Name, r.Key, r.Value, a.Host, cs)
				continue
			}
			c := p.file.Services[cs[0]]
			switch {
			case cs[0] == owner:
			case c.Labels[labels.Role] == labels.RoleRouter:
				want := fmt.Sprintf("%d=%s:%d", port, owner, port)
				found := false
				for _, arg := range c.Command {
					found = found || string(arg) == want
				}
				if !found {
					t.Errorf("%s: %s=%s: router %s does not forward %s (it forwards %v)", j.Name, r.Key, r.Value, cs[0], want, c.Command)
				}
				if c.Profiles == nil && in == nil {
					t.Errorf("router %s has no profiles in the full project", cs[0])
				}
				if !startsAfter(p, from, cs[0]) {
					t.Errorf("%s reaches %s through router %s but does not start after it", from, a.Host, cs[0])
				}
			default:
				t.Errorf("%s: %s=%s: %q is carried by %s, the target %s runs in %s", j.Name, r.Key, r.Value, a.Host, cs[0], to, owner)
			}
			checked++
		}
	}
	if checked == 0 && in == nil {
		t.Error("no address checked")
	}
	if in == nil && !strings.Contains(string(mustYAML(t, p)), "dev.clocal.role: router") {
		t.Error("no router in the full project of a fleet with shared hosts: the test proves little")
	}
}

func mustYAML(t *testing.T, p *Plan) []byte {
	y, err := p.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// startsAfter reports whether compose starts a after b: b is reachable over depends_on.
func startsAfter(p *Plan, a, b string) bool {
	seen := map[string]bool{}
	stack := []string{a}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s := p.file.Services[n]; s != nil && !seen[n] {
			seen[n] = true
			for d := range s.DependsOn {
				if d == b {
					return true
				}
				stack = append(stack, d)
			}
		}
	}
	return false
}

// TestGoldenFleet: the full project of a small generated fleet (routers for shared hosts,
// pause services for sidecars, split replicas, production images, ports a second service
// publishes on a daemon-chosen port) and a trimmed project, as golden files; both load
// through compose-go and docker compose config.
func TestGoldenFleet(t *testing.T) {
	dir := t.TempDir()
	f := fleet.Generate(fleet.Options{Apps: 16, Hosts: 5, Seed: 1, Sidecars: 0.3, PortVariants: 0.3, Folders: -1})
	if err := f.Write(dir); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Workspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet-full.yaml", full)
	sel, err := ws.Resolve([]string{"gateway010"})
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := Workspace(ws, sel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "fleet-gateway010.yaml", trimmed)
	for _, y := range [][]byte{full, trimmed} {
		assertNoWarnings(t, y, dir)
		dockerComposeConfig(t, y, dir)
	}
	// docker compose --profile X starts what clocal up X starts, routers and pauses included
	checkProfiles(t, ws)
}
