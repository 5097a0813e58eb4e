package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// Group is a set of local services sharing one network namespace, because a localhost
// address (or share_localhost: in a service file) says they talk over localhost in
// production.
type Group struct {
	// Name is the compose service owning the namespace and publishing the ports: the pause
	// service "host-<first host>" when Pause, else the only member.
	Name    string
	Pause   bool
	Members []string // local service names, sorted
	Hosts   []string // production hosts of the members, sorted
}

// Listener is a job listening on a port of a production host.
type Listener struct {
	Port    int
	Service string // local service running it
	Job     string
}

// makeServices turns apps into local services: one per folder or app, split where replicas
// differ (or one per job with split_instances).
func (l *loader) makeServices(ws *Workspace, m *model, apps []*app) {
	for _, a := range apps {
		perJob := a.perJob()
		vs := m.split(a, perJob)
		if len(vs) > 1 && !perJob {
			names := make([]string, len(vs))
			for i, v := range vs {
				names[i] = strings.ToLower(v[0].j.Name)
			}
			l.notes.add(FindSplit, a.name, nil, vs[0][0], fmt.Sprintf("replicas differ (%s): split into %s", splitReason(vs), capList(names, 6, ", ")))
		}
		for _, v := range vs {
			name := a.name
			if len(vs) > 1 || perJob {
				name = strings.ToLower(v[0].j.Name)
			}
			l.makeService(ws, a, name, v)
		}
	}
}

func (l *loader) makeService(ws *Workspace, a *app, name string, v []*jobInfo) {
	s := &Service{Name: name, Folder: a.name, File: &ServiceFile{}, lines: map[string]int{}, Ports: v[0].ports}
	if f := a.folder; f != nil {
		s.Dir, s.File, s.FilePath, s.lines = f.dir, f.file, f.svcFile, f.lines
		if f.file.Source != "" {
			s.Source = filepath.Clean(filepath.Join(f.dir, filepath.FromSlash(f.file.Source)))
		}
		df := f.file.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(f.dir, filepath.FromSlash(df))
		}
		if _, err := os.Stat(df); err != nil {
			s.Prebuilt = true
		}
	} else {
		s.Prebuilt = true
	}
	files, hosts := map[string]bool{}, map[string]bool{}
	for _, ji := range v {
		s.Jobs = append(s.Jobs, ji.j)
		ji.svc = name
		files[ji.j.Pos.File] = true
		if ji.j.RunOnHost != "" {
			hosts[ji.j.RunOnHost] = true
		}
	}
	s.Image = s.Jobs[0].Image
	s.JobFiles = sortedKeys(files)
	s.Hosts = sortedKeys(hosts)
	if len(v) > 1 {
		for _, d := range replicaDiffs(v) {
			l.notes.add(FindReplicaDiff, name, nil, nil, d)
		}
	}
	if prev, dup := ws.Services[name]; dup {
		where := "services/" + prev.Folder
		if prev.FilePath == "" {
			where = "the jobs of image " + prev.Image
		}
		l.errorf(s.FilePath, 0, "local service %q (%s) is also defined by %s", name, s.Jobs[0].Pos, where)
		return
	}
	ws.Services[name] = s
}

// buildIndex fills ws.index: service names and folder (app) names first, then job names,
// then hosts.
func (l *loader) buildIndex(ws *Workspace) {
	byFolder := map[string][]string{}
	for _, s := range ws.Services {
		byFolder[s.Folder] = append(byFolder[s.Folder], s.Name)
	}
	names := ws.ServiceNames()
	for _, name := range names {
		ws.index[name] = []string{name}
	}
	for folder, svcs := range byFolder {
		if _, ok := ws.index[folder]; !ok {
			sort.Strings(svcs)
			ws.index[folder] = svcs
		}
	}
	hosts := map[string]map[string]bool{}
	for _, name := range names {
		s := ws.Services[name]
		for _, j := range s.Jobs {
			jn := strings.ToLower(j.Name)
			if other, ok := ws.index[jn]; ok && !contains(other, s.Name) {
				l.jobErrorf(j, "job name %q is also the name of service %q", j.Name, other[0])
				continue
			}
			if _, ok := ws.index[jn]; !ok {
				ws.index[jn] = []string{s.Name}
			}
			if j.Name != jn {
				if _, ok := ws.index[j.Name]; !ok {
					ws.index[j.Name] = []string{s.Name}
				}
			}
		}
		for _, h := range s.Hosts {
			if hosts[h] == nil {
				hosts[h] = map[string]bool{}
			}
			hosts[h][s.Name] = true
		}
	}
	for h, svcs := range hosts {
		if _, ok := ws.index[h]; !ok {
			ws.index[h] = sortedKeys(svcs)
		}
	}
}

// buildNet computes the namespace groups (union over localhost references and
// share_localhost:), reports every port two members of one group both listen on, and keeps
// what convert needs: each host's listeners and each service's group.
func (l *loader) buildNet(ws *Workspace, m *model) {
	names := ws.ServiceNames()
	idx := make(map[string]int, len(names))
	for i, n := range names {
		idx[n] = i
	}
	sets := newUnionFind(len(names))
	find := sets.find
	// why records, per pair joined, the reference that joined them (for clash errors)
	type join struct{ a, b, why string }
	var joins []join
	union := func(a, b, why string) {
		ia, okA := idx[a]
		ib, okB := idx[b]
		if !okA || !okB || a == b {
			return
		}
		if !sets.union(ia, ib) {
			return
		}
		joins = append(joins, join{a, b, why})
	}
	for _, ji := range m.jobs {
		for _, r := range ji.refs {
			if !r.local {
				continue
			}
			for _, t := range r.to {
				union(ji.svc, t.svc, fmt.Sprintf("%s reaches %s as %s at %s", ji.svc, t.svc, r.addr.Text, relPos(l.root, r.env.Pos)))
			}
		}
	}
	// share_localhost: joins the jobs of one host (see model.namespaces); here its names are
	// checked and the services of every production namespace it joined are united.
	shareWhy := map[*app]string{}
	done := map[string]bool{}
	for _, name := range names {
		s := ws.Services[name]
		if s.FilePath == "" || done[s.Folder] {
			continue
		}
		done[s.Folder] = true
		for i, other := range s.File.ShareLocalhost {
			line := s.Line(fmt.Sprintf("share_localhost[%d]", i))
			if ws.Lookup(other) == nil {
				l.errorf(s.FilePath, line, "share_localhost[%d]: unknown service %q%s", i, other, didYouMean(other, ws.names()))
				continue
			}
			if a := m.byApp[strings.ToLower(s.Folder)]; a != nil && shareWhy[a] == "" {
				shareWhy[a] = fmt.Sprintf("%s:%d share_localhost: %s", s.FilePath, line, other)
			}
		}
	}
	for _, ji := range m.jobs {
		first := ji.ns.jobs[0]
		if first == ji || ji.svc == "" || first.svc == "" {
			continue
		}
		why := shareWhy[ji.app]
		if why == "" {
			why = shareWhy[first.app]
		}
		if why == "" {
			why = fmt.Sprintf("%s and %s share localhost on %s", first.j.Name, ji.j.Name, ji.j.RunOnHost)
		}
		union(first.svc, ji.svc, why)
	}
	groups := map[int]*Group{}
	var roots []int
	for i, n := range names {
		r := find(i)
		g := groups[r]
		if g == nil {
			g = &Group{}
			groups[r] = g
			roots = append(roots, r)
		}
		g.Members = append(g.Members, n)
		g.Hosts = append(g.Hosts, ws.Services[n].Hosts...)
	}
	taken := map[string]bool{}
	for _, n := range names {
		taken[n] = true
	}
	ws.groupOf = make(map[string]*Group, len(names))
	for _, r := range roots {
		g := groups[r]
		g.Hosts = uniqSorted(g.Hosts)
		if len(g.Members) == 1 {
			g.Name = g.Members[0]
		} else {
			g.Pause = true
			first := g.Members[0]
			if len(g.Hosts) > 0 {
				first = g.Hosts[0]
			}
			g.Name = "host-" + dnsName(first)
			for taken[g.Name] {
				g.Name += "-pause"
			}
			taken[g.Name] = true
		}
		ws.Groups = append(ws.Groups, g)
		for _, mbr := range g.Members {
			ws.groupOf[mbr] = g
		}
	}
	sort.Slice(ws.Groups, func(i, j int) bool { return ws.Groups[i].Name < ws.Groups[j].Name })

	// port clashes inside a group: an input error naming both jobs
	for _, g := range ws.Groups {
		if len(g.Members) < 2 {
			continue
		}
		type owner struct {
			svc string
			j   *job.Job
		}
		byPort := map[int]owner{}
		for _, mbr := range g.Members {
			s := ws.Services[mbr]
			for _, p := range s.Ports {
				if o, dup := byPort[p]; dup {
					var why []string
					for _, jn := range joins {
						if find(idx[jn.a]) == find(idx[mbr]) {
							why = append(why, jn.why)
						}
					}
					if len(why) > 3 {
						why = append(why[:3], fmt.Sprintf("and %d more", len(why)-3))
					}
					l.jobErrorf(s.Jobs[0], "port %d: job %s (%s) and job %s (%s) both listen on it, and would share one network namespace (%s); production never runs them on one host: fix the localhost address or the listening port, or set ports: in a service file",
						p, o.j.Name, relPos(l.root, o.j.Pos), s.Jobs[0].Name, relPos(l.root, s.Jobs[0].Pos), strings.Join(why, "; "))
					continue
				}
				byPort[p] = owner{mbr, s.Jobs[0]}
			}
		}
	}

	ws.hosts = map[string][]Listener{}
	ws.hostNames = m.hosts
	for _, ji := range m.jobs {
		if ji.j.RunOnHost == "" || ji.svc == "" {
			continue
		}
		h := m.hosts.display[ji.host]
		if len(ji.ports) == 0 {
			ws.hosts[h] = append(ws.hosts[h], Listener{Service: ji.svc, Job: ji.j.Name})
		}
		for _, p := range ji.ports {
			ws.hosts[h] = append(ws.hosts[h], Listener{Port: p, Service: ji.svc, Job: ji.j.Name})
		}
	}
}

// dnsName makes a host name usable in a compose service name.
func dnsName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "._-")
	if out == "" {
		return "x"
	}
	return out
}

func uniqSorted(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// GroupOf returns the namespace group of a service (nil for an unknown service).
func (ws *Workspace) GroupOf(service string) *Group { return ws.groupOf[service] }

// HostNames returns the production hosts of every job, sorted.
func (ws *Workspace) HostNames() []string { return sortedKeys(ws.hosts) }

// HostAliases returns the names of a production host (a name HostNames returns): how
// run_on_host and the env values that reach it write it ("app-01", "app-01.dc1.corp.com"),
// lowercased, sorted; each is a network alias of what stands for the host locally.
func (ws *Workspace) HostAliases(host string) []string {
	if ws.hostNames == nil {
		return []string{strings.ToLower(host)}
	}
	out := append([]string(nil), ws.hostNames.spellings[ws.hostNames.of(host)]...)
	if len(out) == 0 {
		out = []string{strings.ToLower(host)}
	}
	sort.Strings(out)
	return out
}

// Listeners returns the jobs running on a production host with the ports they listen on (a
// job listening on no known port is listed once with Port 0), in job order.
func (ws *Workspace) Listeners(host string) []Listener { return ws.hosts[host] }
