package workspace

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// The address model: production runs every job on host networking, so a job is reached at
// (its host, a port it listens on) or (its job name, that port), and `localhost:PORT` reaches
// the job listening on PORT on the caller's own host. clocal indexes exactly that:
//
//   - listening ports: env keys matching port_env whose value is a port (or the service
//     file's ports:), except a key paired with a host key naming another production host or
//     job (db_host + db_port is where the job connects, not where it listens);
//   - (host, port) -> job and (job name) -> job;
//   - every address in every env value resolves to the jobs it reaches there: HOST:PORT and
//     JOB:PORT to exactly the job listening on PORT there, localhost:PORT to the job on the
//     caller's host listening on PORT; a bare host with one app on it to that app; a bare
//     host with several is ambiguous (reported, no edge).
//
// Dependencies are the services of the jobs reached; localhost references (and service file
// share_localhost:) are what makes services share a network namespace, nothing else.

// hostPort is an index key.
type hostPort struct {
	host string
	port int
}

// jobInfo is what the model knows of one job.
type jobInfo struct {
	j     *job.Job
	app   *app
	ports []int  // listening ports, sorted
	host  string // lowercased run_on_host
	refs  []jobRef
	svc   string // local service, once split
	// ns is the job's localhost namespace in production: the jobs of its host it reaches, or
	// that reach it, over localhost (transitively), and share_localhost: partners.
	ns *namespace
}

// namespace is a set of jobs of one production host (or, joined by share_localhost:,
// several) that talk over localhost: production's per-host loopback. Namespaces whose
// members are alike (the same apps, images and ports) run as one local namespace; an app
// whose replicas sit in unlike namespaces is split, one local instance per kind.
type namespace struct {
	jobs []*jobInfo
	// sig says what the namespace holds ("" for a job alone): its members' app, image and
	// listening ports, sorted.
	sig string
}

// jobRef is one address of an env value of a job, resolved.
type jobRef struct {
	env   *job.Env
	addr  Address
	to    []*jobInfo // jobs reached (without the job itself)
	local bool
}

// model is the address model of a set of apps.
type model struct {
	jobs    []*jobInfo
	byJob   map[*job.Job]*jobInfo
	byHP    map[hostPort][]*jobInfo
	byName  map[string]*jobInfo   // lowercased job name
	byHost  map[string][]*jobInfo // canonical host (hostIndex)
	hosts   *hostIndex
	byApp   map[string]*app
	portEnv []string
	// share returns the share_localhost: entries of an app (nil: none).
	share func(*app) []string
	notes *notes
}

// newModel indexes the jobs of apps. ports gives an app's explicit listening ports (service
// file ports:), nil for the port_env rule.
// share gives an app's share_localhost: entries (nil for none).
func newModel(apps []*app, portEnv []string, ports func(*app) []int, share func(*app) []string, n *notes) *model {
	m := &model{byJob: map[*job.Job]*jobInfo{}, byHP: map[hostPort][]*jobInfo{}, byName: map[string]*jobInfo{},
		byHost: map[string][]*jobInfo{}, byApp: map[string]*app{}, portEnv: portEnv, notes: n, share: share}
	var hostNames []string
	for _, a := range apps {
		for _, j := range a.jobs {
			hostNames = append(hostNames, j.RunOnHost)
		}
	}
	m.hosts = newHostIndex(hostNames)
	for _, a := range apps {
		m.byApp[strings.ToLower(a.name)] = a
		for _, j := range a.jobs {
			ji := &jobInfo{j: j, app: a, host: m.hosts.of(j.RunOnHost)}
			m.jobs = append(m.jobs, ji)
			m.byJob[j] = ji
			m.byName[strings.ToLower(j.Name)] = ji
			if ji.host != "" {
				m.byHost[ji.host] = append(m.byHost[ji.host], ji)
			}
		}
	}
	// listening ports
	for _, ji := range m.jobs {
		if p := ports(ji.app); p != nil {
			ji.ports = p
			continue
		}
		ji.ports = m.listening(ji)
	}
	for _, ji := range m.jobs {
		if ji.host == "" {
			continue
		}
		for _, p := range ji.ports {
			k := hostPort{ji.host, p}
			m.byHP[k] = append(m.byHP[k], ji)
		}
	}
	for _, ji := range m.jobs {
		m.resolve(ji)
	}
	m.namespaces()
	return m
}

// namespaces computes every job's production namespace: union over localhost references
// (between jobs of one host) and share_localhost: (with the partner's jobs on the same host,
// or all of them when it has none there), and the signature of each.
func (m *model) namespaces() {
	idx := make(map[*jobInfo]int, len(m.jobs))
	for i, ji := range m.jobs {
		idx[ji] = i
	}
	sets := newUnionFind(len(m.jobs))
	find := sets.find
	union := func(a, b *jobInfo) { sets.union(idx[a], idx[b]) }
	for _, ji := range m.jobs {
		for _, r := range ji.refs {
			if r.local {
				for _, t := range r.to {
					union(ji, t)
				}
			}
		}
	}
	if m.share != nil {
		for _, ji := range m.jobs {
			for _, name := range m.share(ji.app) {
				partners := m.named(name)
				var here []*jobInfo
				for _, t := range partners {
					if t.host == ji.host {
						here = append(here, t)
					}
				}
				if len(here) == 0 {
					here = partners
				}
				for _, t := range here {
					union(ji, t)
				}
			}
		}
	}
	byRoot := map[int]*namespace{}
	for i, ji := range m.jobs {
		r := find(i)
		ns := byRoot[r]
		if ns == nil {
			ns = &namespace{}
			byRoot[r] = ns
		}
		ns.jobs = append(ns.jobs, ji)
		ji.ns = ns
	}
	for _, ns := range byRoot {
		if len(ns.jobs) < 2 {
			continue
		}
		keys := make([]string, len(ns.jobs))
		for i, ji := range ns.jobs {
			keys[i] = ji.app.name + "|" + m.instanceKey(ji)
			if ji.app.perJob() {
				keys[i] += "|" + ji.j.Name // one instance per job: its namespace is its own
			}
		}
		sort.Strings(keys)
		ns.sig = strings.Join(keys, ";")
	}
}

// unionFind is a disjoint-set forest over 0..n-1; a set's root is its smallest member.
type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

func (u unionFind) find(i int) int {
	for u[i] != i {
		u[i] = u[u[i]]
		i = u[i]
	}
	return i
}

// union joins the sets of a and b and reports whether they were apart.
func (u unionFind) union(a, b int) bool {
	ra, rb := u.find(a), u.find(b)
	switch {
	case ra < rb:
		u[rb] = ra
	case rb < ra:
		u[ra] = rb
	default:
		return false
	}
	return true
}

// named returns the jobs a share_localhost: entry names: the jobs of an app (folder or
// image name), of a job, or of a host.
func (m *model) named(name string) []*jobInfo {
	name = strings.ToLower(name)
	if a := m.byApp[name]; a != nil {
		out := make([]*jobInfo, 0, len(a.jobs))
		for _, j := range a.jobs {
			out = append(out, m.byJob[j])
		}
		return out
	}
	if ji := m.byName[name]; ji != nil {
		return []*jobInfo{ji}
	}
	return m.byHost[m.hosts.of(name)]
}

// listening returns the ports a job listens on by the port_env rule (the last value of a key
// wins, as in production), leaving out a port key paired with a host key that names another
// production host or job.
func (m *model) listening(ji *jobInfo) []int {
	j := ji.j
	var out, own []int
	for i := range j.Envs {
		e := &j.Envs[i]
		if !MatchPortKey(e.Key, m.portEnv) {
			continue
		}
		if last, _ := j.Env(e.Key); last != e.Value {
			continue
		}
		p, ok := listenPort(e.Value)
		if !ok || containsInt(out, p) {
			continue
		}
		switch m.paired(j, e.Key) {
		case pairOther:
			continue
		case pairOwnHost:
			own = append(own, p) // where it connects on its own host, or where it binds
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		out = own // "http_host: <own host>, http_port: 8080" is where it listens
	}
	sort.Ints(out)
	return out
}

// listenPort reads the value of a listening-port key: "8080", or a listen address of this
// host, ":8080", "0.0.0.0:8080", "[::]:8080".
func listenPort(v string) (int, bool) {
	v = strings.TrimSpace(v)
	for _, prefix := range []string{":", "0.0.0.0:", "[::]:", "*:"} {
		if rest, ok := strings.CutPrefix(v, prefix); ok {
			return ParsePort(rest)
		}
	}
	return ParsePort(v)
}

const (
	pairNone    = iota
	pairOther   // the host key names another production host or a job
	pairOwnHost // the host key names the job's own host
)

// paired says whether portKey is the port of a host key ("db_port" of "db_host" or
// "db_hostname") naming a production host or job, or a name outside the fleet: then it is
// where the job connects, not where it listens (a bind address, 0.0.0.0, is where it does). A host key naming the job's own host or localhost is pairOwnHost: where
// it connects on its own host (the port is another job's there), or where it binds when it
// has no other listening port.
func (m *model) paired(j *job.Job, portKey string) int {
	lk := strings.ToLower(portKey)
	if !strings.HasSuffix(lk, "port") || len(lk) == 4 {
		return pairNone
	}
	prefix := lk[:len(lk)-4]
	for i := range j.Envs {
		e := &j.Envs[i]
		if k := strings.ToLower(e.Key); k != prefix+"host" && k != prefix+"hostname" {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(e.Value))
		host := m.hosts.of(h)
		_, isJob := m.byName[h]
		switch {
		case h == "" || h == "0.0.0.0" || h == "::" || h == "[::]" || h == "*":
			return pairNone // a bind address: where it listens
		case host != "" && host == m.hosts.of(j.RunOnHost) || isLoopback(h):
			return pairOwnHost
		case host != "" || isJob:
			return pairOther
		}
		// a name outside the fleet (smtp_host: smtp.example.com, smtp_port: 587): where it
		// connects, never where it listens
		return pairOther
	}
	return pairNone
}

// isLoopback reports whether a host names the machine itself: localhost, 127.x, ::1.
func isLoopback(h string) bool {
	h = strings.Trim(h, "[]")
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.") && isIPv4(h)
}

func containsInt(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// resolve finds what each address of the job's env values reaches.
func (m *model) resolve(ji *jobInfo) {
	j := ji.j
	for i := range j.Envs {
		e := &j.Envs[i]
		for _, a := range Addresses(e.Value) {
			if a.Port == 0 {
				if p, k, ok := pairedPort(j, e.Key); ok {
					a.Port = p
					a.Text += " (" + k + " " + strconv.Itoa(p) + ")"
				}
			}
			r := jobRef{env: e, addr: a}
			switch {
			case a.Local:
				if a.Port == 0 || ji.host == "" || containsInt(ji.ports, a.Port) {
					continue // no port, no host, or the job itself
				}
				r.local = true
				r.to = without(m.byHP[hostPort{ji.host, a.Port}], ji)
				if len(r.to) == 0 {
					m.notes.add(noteUnresolved, "localhost:"+strconv.Itoa(a.Port)+" on "+j.RunOnHost, e, ji,
						fmt.Sprintf("no job on host %s listens on port %d", j.RunOnHost, a.Port))
					continue
				}
			case m.byName[a.Host] != nil:
				t := m.byName[a.Host]
				if t == ji {
					continue
				}
				r.to = []*jobInfo{t}
			case m.byHost[m.hosts.of(a.Host)] != nil:
				m.hosts.seen(a.Host)
				a.Host = m.hosts.of(a.Host)
				if a.Host == ji.host && a.Port == 0 {
					continue // its own host, no port: the job naming where it runs
				}
				r.to = m.onHost(ji, e, a)
			default:
				continue // not a production name: something outside the fleet
			}
			if len(r.to) > 1 && !sameApp(r.to) {
				names := make([]string, len(r.to))
				for k, t := range r.to {
					names[k] = t.j.Name
				}
				m.notes.add(noteAmbiguous, a.Text, e, ji, fmt.Sprintf("jobs %s all listen on it in production", strings.Join(names, ", ")))
			}
			if len(r.to) > 0 {
				ji.refs = append(ji.refs, r)
			}
		}
	}
}

// onHost resolves an address naming a production host. With a port (written, or the
// default port of a URL scheme: http://HOST is HOST:80, https://HOST HOST:443), it reaches
// the job listening there; when no job is known to listen there, only the host's jobs whose
// listening ports clocal does not know (no port key) may, and only when they are one app.
// Without a port, a host running one app reaches it.
func (m *model) onHost(ji *jobInfo, e *job.Env, a Address) []*jobInfo {
	all := m.byHost[a.Host]
	if a.Port == 0 {
		if sameApp(all) {
			return without(all[:1], ji)
		}
		m.notes.add(noteAmbiguous, a.Text, e, ji, fmt.Sprintf("a bare host name: %s runs %s", a.Host, jobNames(all)))
		return nil
	}
	if hit := m.byHP[hostPort{a.Host, a.Port}]; len(hit) > 0 {
		return without(hit, ji)
	}
	var unknown []*jobInfo
	for _, t := range all {
		if len(t.ports) == 0 {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 && sameApp(unknown) {
		return without(unknown[:1], ji)
	}
	port := strconv.Itoa(a.Port)
	if a.Implied {
		port += " (" + a.Scheme + ":// without a port)"
	}
	m.notes.add(noteAmbiguous, a.Text, e, ji, fmt.Sprintf("no job on %s listens on port %s (its jobs: %s)", a.Host, port, jobNames(all)))
	return nil
}

func jobNames(js []*jobInfo) string {
	names := make([]string, 0, len(js))
	for _, t := range js {
		names = append(names, t.j.Name)
	}
	if len(names) > 6 {
		names = append(names[:6], fmt.Sprintf("and %d more", len(names)-6))
	}
	return strings.Join(names, ", ")
}

func sameApp(js []*jobInfo) bool {
	for _, t := range js[1:] {
		if t.app != js[0].app {
			return false
		}
	}
	return true
}

func without(js []*jobInfo, self *jobInfo) []*jobInfo {
	for i, t := range js {
		if t == self {
			out := append([]*jobInfo(nil), js[:i]...)
			return append(out, js[i+1:]...)
		}
	}
	return js
}

// instanceKey is what a job runs locally: its image and listening ports.
func (m *model) instanceKey(ji *jobInfo) string {
	var b strings.Builder
	b.WriteString(ji.j.Image)
	b.WriteByte('|')
	for _, p := range ji.ports {
		b.WriteString(strconv.Itoa(p))
		b.WriteByte(',')
	}
	return b.String()
}

// variantKey says which replicas of an app may run as one local instance: the same image,
// the same listening ports, and alike production namespaces (the same apps reached over
// localhost, or reaching it, each with its image and ports). Replicas in unlike namespaces
// are split, so that each local instance reaches over localhost exactly what its own host
// runs: a per-host agent next to different apps on every host becomes one instance per
// kind of host, never two agents in one namespace.
func (m *model) variantKey(ji *jobInfo) string {
	return m.instanceKey(ji) + "|" + ji.ns.sig
}

// split groups an app's jobs into local instances: one per variantKey (one per job with
// split_instances), in order of first job.
func (m *model) split(a *app, perJob bool) [][]*jobInfo {
	var out [][]*jobInfo
	idx := map[string]int{}
	for _, j := range a.jobs {
		ji := m.byJob[j]
		key := m.variantKey(ji)
		if perJob {
			key = j.Name
		}
		k, ok := idx[key]
		if !ok {
			k = len(out)
			idx[key] = k
			out = append(out, nil)
		}
		out[k] = append(out[k], ji)
	}
	return out
}

// splitReason describes how the variants of an app differ, for the one-line notice: the
// image when images differ, the ports when ports differ, the localhost partner otherwise.
func splitReason(vs [][]*jobInfo) string {
	images, ports := map[string]bool{}, map[string]bool{}
	for _, v := range vs {
		images[v[0].j.Image] = true
		ports[fmt.Sprint(v[0].ports)] = true
	}
	var parts []string
	for _, v := range vs {
		rep := v[0]
		var hosts []string
		for _, ji := range v {
			if ji.j.RunOnHost != "" && !contains(hosts, ji.j.RunOnHost) {
				hosts = append(hosts, ji.j.RunOnHost)
			}
		}
		var what []string
		if len(images) > 1 {
			what = append(what, "image "+rep.j.Image)
		}
		if len(ports) > 1 || len(images) == 1 {
			ps := make([]string, len(rep.ports))
			for i, p := range rep.ports {
				ps[i] = strconv.Itoa(p)
			}
			if len(ps) > 0 {
				what = append(what, "port "+strings.Join(ps, ","))
			}
		}
		if len(images) == 1 && len(ports) == 1 {
			var partners []string
			for _, t := range rep.ns.jobs {
				if t.app != rep.app {
					partners = append(partners, t.app.name)
				}
			}
			if len(partners) > 0 {
				what = append(what, "sharing localhost with "+capList(uniqSorted(partners), 4))
			} else {
				what = append(what, "no localhost partner")
			}
		}
		s := strings.Join(what, " ")
		if len(hosts) > 0 {
			s += " on " + capList(hosts, 3)
		}
		parts = append(parts, s)
	}
	return capList(parts, 4, "; ")
}

// capList joins at most n items (with sep, default ","), saying how many more there are.
func capList(items []string, n int, sep ...string) string {
	j := ","
	if len(sep) > 0 {
		j = sep[0]
	}
	if len(items) > n {
		items = append(items[:n:n], fmt.Sprintf("and %d more", len(items)-n))
	}
	return strings.Join(items, j)
}

// replicaDiffs lists what differs between the replicas of one local instance, besides host
// and name: env keys, volumes, command, limits (keys only: values may be secret).
func replicaDiffs(v []*jobInfo) []string {
	rep := v[0].j
	var out []string
	for _, ji := range v[1:] {
		j := ji.j
		var d []string
		keys := map[string]bool{}
		for _, e := range rep.Envs {
			keys[e.Key] = true
		}
		for _, e := range j.Envs {
			keys[e.Key] = true
		}
		var envs []string
		for k := range keys {
			a, aok := rep.Env(k)
			b, bok := j.Env(k)
			if a != b || aok != bok {
				envs = append(envs, k)
			}
		}
		if len(envs) > 0 {
			sort.Strings(envs)
			d = append(d, "env "+strings.Join(envs, ", "))
		}
		if fmt.Sprint(volumeSpecs(rep)) != fmt.Sprint(volumeSpecs(j)) {
			d = append(d, "volumes")
		}
		if strings.Join(rep.Command, "\x00") != strings.Join(j.Command, "\x00") || strings.Join(rep.Args, "\x00") != strings.Join(j.Args, "\x00") {
			d = append(d, "command/args")
		}
		if rep.CPUs != j.CPUs || rep.MemoryMB != j.MemoryMB {
			d = append(d, "cpus/memory_mb")
		}
		if rep.User != j.User || rep.WorkingDir != j.WorkingDir || rep.Restart != j.Restart {
			d = append(d, "user/working_dir/restart")
		}
		if string(rep.Extra) != string(j.Extra) {
			d = append(d, "other fields")
		}
		if len(d) > 0 {
			out = append(out, fmt.Sprintf("%s (%s) differs from %s, which runs locally: %s", j.Name, j.Pos, rep.Name, strings.Join(d, "; ")))
		}
	}
	return out
}

func volumeSpecs(j *job.Job) []string {
	var out []string
	for _, v := range j.Volumes {
		out = append(out, fmt.Sprintf("%s:%s:%v", v.ContainerPath, v.HostPath, v.ReadOnly))
	}
	return out
}

// relPos is a job position with the file made workspace-relative when absolute.
func relPos(root string, p job.Pos) string {
	if filepath.IsAbs(p.File) && root != "" {
		if r, err := filepath.Rel(root, p.File); err == nil {
			p.File = filepath.ToSlash(r)
		}
	}
	return p.String()
}

// hostIndex says which names denote one production host: "app-01" and
// "app-01.dc1.corp.com" are one host (in run_on_host or in a value, either way round),
// unless production has several hosts named app-01.<domain>; then each full name is its
// own host and the short one names none of them.
type hostIndex struct {
	canon   map[string]string          // lowercased spelling -> canonical key
	fqdns   map[string]map[string]bool // short name -> full names of production hosts
	display map[string]string          // canonical key -> run_on_host as first written
	// spellings are the lowercased names of each host (canonical key) in run_on_host and in
	// the values that reach it: each is a network alias locally.
	spellings map[string][]string
}

func shortHost(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 && !isNumber(h) {
		return h[:i]
	}
	return h
}

func newHostIndex(names []string) *hostIndex {
	x := &hostIndex{canon: map[string]string{}, fqdns: map[string]map[string]bool{}, display: map[string]string{}, spellings: map[string][]string{}}
	for _, n := range names {
		l := strings.TrimSuffix(strings.ToLower(n), ".")
		if l == "" {
			continue
		}
		short := shortHost(l)
		if x.fqdns[short] == nil {
			x.fqdns[short] = map[string]bool{}
		}
		if short != l {
			x.fqdns[short][l] = true
		}
	}
	for _, n := range names {
		l := strings.TrimSuffix(strings.ToLower(n), ".")
		if l == "" {
			continue
		}
		key := l
		if short := shortHost(l); len(x.fqdns[short]) <= 1 {
			key = short
			x.canon[short] = key // the short name of the only app-01.<domain>
		}
		x.canon[l] = key
		if _, ok := x.display[key]; !ok {
			x.display[key] = n
		}
		x.seen(l)
	}
	return x
}

// of returns the canonical key of the production host a name denotes, "" for none.
func (x *hostIndex) of(name string) string {
	l := strings.TrimSuffix(strings.ToLower(name), ".")
	if k, ok := x.canon[l]; ok {
		return k
	}
	// a full name of a host production writes short only ("app-01.dc1.corp.com" for app-01)
	if short := shortHost(l); short != l && len(x.fqdns[short]) == 0 {
		if k, ok := x.canon[short]; ok {
			return k
		}
	}
	return ""
}

// seen records a spelling of a production host.
func (x *hostIndex) seen(name string) {
	l := strings.TrimSuffix(strings.ToLower(name), ".")
	if k := x.of(l); k != "" && !contains(x.spellings[k], l) {
		x.spellings[k] = append(x.spellings[k], l)
	}
}
