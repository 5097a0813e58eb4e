package convert

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Options tune the conversion. The zero value is valid.
type Options struct {
	// BindAddress is the host address ports are published on (default 127.0.0.1).
	BindAddress string
	// EphemeralPorts publishes "127.0.0.1::<port>": the daemon picks the host port (isolated
	// stacks, tests). Find it with `docker compose port`.
	EphemeralPorts bool
	// PortEnv is the port_env rule (default: the workspace's, else DefaultPortEnv).
	PortEnv []string
	// Log is the json-file rotation (default: the workspace's, else 10m x 3).
	Log workspace.LogConfig
	// PullPolicy of every service (default "never": nothing is pulled from a registry).
	PullPolicy string
	// Images maps a local service to its built image (clocal/<svc>:<hash12>); a service without
	// an entry runs its production image. Workspace conversions only.
	Images map[string]string
}

func (o *Options) defaults(ws *workspace.Workspace) {
	if o.BindAddress == "" {
		o.BindAddress = DefaultBindAddress
	}
	if o.PortEnv == nil {
		if ws != nil && ws.Config.PortEnv != nil {
			o.PortEnv = ws.Config.PortEnv
		} else {
			o.PortEnv = DefaultPortEnv
		}
	}
	if ws != nil {
		if o.Log.MaxSize == "" {
			o.Log.MaxSize = ws.Config.Log.MaxSize
		}
		if o.Log.MaxFile == 0 {
			o.Log.MaxFile = ws.Config.Log.MaxFile
		}
	}
	if o.Log.MaxSize == "" {
		o.Log.MaxSize = "10m"
	}
	if o.Log.MaxFile == 0 {
		o.Log.MaxFile = 3
	}
	if o.PullPolicy == "" {
		o.PullPolicy = "never"
	}
}

// Group is a set of services that share one network namespace because their production jobs
// share a host (transitively).
type Group struct {
	// Name is the compose service owning the namespace and publishing the ports: the pause
	// service "host-<first host>" when Pause, else the only member.
	Name    string
	Pause   bool
	Members []string // compose service names, sorted
	Hosts   []string // production hosts, sorted
}

// Groups computes the network-namespace groups of services given their production hosts:
// union-find over hosts. A group of two or more services gets a pause service named
// "host-<first host>" ("-pause" appended if a service already has that name); a single service
// is its own group. Groups are sorted by Name.
func Groups(hosts map[string][]string) []Group {
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	parent := make([]int, len(names))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byHost := map[string]int{}
	for i, n := range names {
		for _, h := range hosts[n] {
			if j, ok := byHost[h]; ok {
				a, b := find(i), find(j)
				if a != b {
					if a < b {
						parent[b] = a
					} else {
						parent[a] = b
					}
				}
			} else {
				byHost[h] = i
			}
		}
	}
	idx := map[int]*Group{}
	var order []int
	for i, n := range names {
		r := find(i)
		g := idx[r]
		if g == nil {
			g = &Group{}
			idx[r] = g
			order = append(order, r)
		}
		g.Members = append(g.Members, n)
		g.Hosts = append(g.Hosts, hosts[n]...)
	}
	taken := map[string]bool{}
	for _, n := range names {
		taken[n] = true
	}
	out := make([]Group, 0, len(order))
	for _, r := range order {
		g := idx[r]
		g.Hosts = uniqSorted(g.Hosts)
		if len(g.Members) == 1 {
			g.Name = g.Members[0]
		} else {
			g.Pause = true
			first := g.Members[0]
			if len(g.Hosts) > 0 {
				first = g.Hosts[0]
			}
			g.Name = "host-" + ServiceName(first)
			for taken[g.Name] {
				g.Name += "-pause"
			}
			taken[g.Name] = true
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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

// unit is one compose service to render (not a pause service).
type unit struct {
	name         string // compose service name
	local        string // dev.clocal.service
	jobs         []*job.Job
	hosts        []string
	sources      []string
	image        string
	env          map[string]string
	ports        []int
	healthcheck  *workspace.Healthcheck
	mounts       map[string]string // container path -> bind source ("./rel")
	configs      []workspace.ConfigMount
	privileged   bool
	dockerSocket bool
	dependsOn    []string
	profiles     []string
}

// Plan is a converted project before rendering: the compose services, their groups and the
// warnings found. Render it with YAML.
type Plan struct {
	Groups   []Group  // every group with at least one service in the project
	Warnings []string // non-fatal problems (port collisions, unknown restart policies)

	file  composeFile
	owner map[string]string
	ports map[string][]int
}

// Ports returns the ports service listens on (published by its Owner), sorted.
func (p *Plan) Ports(service string) []int { return p.ports[service] }

// Owner returns the compose service that owns service's network namespace and publishes its
// ports (the pause service of its group, or service itself); "" for an unknown service.
func (p *Plan) Owner(service string) string { return p.owner[service] }

// Services returns the compose service names of the plan (pause services included), sorted.
func (p *Plan) Services() []string {
	out := make([]string, 0, len(p.file.Services))
	for n := range p.file.Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MaxNameLen is the longest job or host name: both become DNS names (network aliases), whose
// labels are at most 63 characters.
const MaxNameLen = 63

// abbrev shortens a long name for an error message.
func abbrev(s string) string {
	if len(s) <= 40 {
		return s
	}
	return strings.ToValidUTF8(s[:37], "") + "..."
}

// FromJobs converts production jobs as they are (`clocal convert PATH...`): one service per job
// named by the job name, production images, no profiles and no depends_on between jobs.
func FromJobs(jobs []*job.Job, opts Options) (*Plan, error) {
	opts.defaults(nil)
	units := make([]*unit, 0, len(jobs))
	taken := make(map[string]bool, len(jobs))
	var errs []string
	for _, j := range jobs {
		if j == nil {
			continue
		}
		if len(j.Name) > MaxNameLen {
			errs = append(errs, fmt.Sprintf("%s: job name %q is %d characters long: it becomes a service name and network alias, at most %d", j.Pos, abbrev(j.Name), len(j.Name), MaxNameLen))
			continue
		}
		if len(j.RunOnHost) > MaxNameLen {
			errs = append(errs, fmt.Sprintf("%s: run_on_host %q is %d characters long: it becomes a network alias, at most %d", j.Pos, abbrev(j.RunOnHost), len(j.RunOnHost), MaxNameLen))
			continue
		}
		name := ServiceName(j.Name)
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s-%d", ServiceName(j.Name), i)
		}
		taken[name] = true
		u := &unit{name: name, local: j.Name, jobs: []*job.Job{j}, image: j.Image, env: MergeEnv(j)}
		if j.RunOnHost != "" {
			u.hosts = []string{j.RunOnHost}
		}
		if j.Pos.File != "" {
			u.sources = []string{j.Pos.File}
		}
		u.ports = ListeningPorts(j, opts.PortEnv)
		if u.image == "" {
			errs = append(errs, fmt.Sprintf("%s: job %q has no image", j.Pos, j.Name))
		}
		units = append(units, u)
	}
	hosts := make(map[string][]string, len(units))
	for _, u := range units {
		hosts[u.name] = u.hosts
	}
	return build(units, Groups(hosts), opts, errs)
}

// FromWorkspace converts a workspace. With sel == nil it is the full project: every service,
// each tagged with the compose profiles that need it (see the package doc), no profile
// overrides. With a Selection it is the trimmed project of exactly sel.Services (plus the pause
// services they need), no profiles key, with the selection's profile overrides applied.
// Paths are relative to ws.Root, which must be the project's working directory.
func FromWorkspace(ws *workspace.Workspace, sel *workspace.Selection, opts Options) (*Plan, error) {
	opts.defaults(ws)
	var names []string
	var overrides map[string]workspace.Override
	var tags map[string][]string
	if sel == nil {
		names = ws.ServiceNames()
		tags = profileTags(ws)
	} else {
		names = append([]string(nil), sel.Services...)
		sort.Strings(names)
		overrides = sel.Overrides
	}
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
	}
	var errs []string
	units := make([]*unit, 0, len(names))
	for _, name := range names {
		s := ws.Services[name]
		if s == nil {
			errs = append(errs, fmt.Sprintf("unknown service %q", name))
			continue
		}
		if len(s.Jobs) == 0 {
			errs = append(errs, fmt.Sprintf("service %q has no job", name))
			continue
		}
		rep := s.Jobs[0]
		u := &unit{name: name, local: name, jobs: s.Jobs, hosts: s.Hosts, sources: s.JobFiles,
			image: rep.Image, healthcheck: ws.Healthcheck(s), configs: s.File.Configs,
			privileged: s.File.Privileged, dockerSocket: s.File.DockerSocket, profiles: tags[name]}
		if img, ok := opts.Images[name]; ok && img != "" {
			u.image = img
		}
		var layers []map[string]string
		for _, l := range s.EnvLayers(overrides[name].Env) {
			layers = append(layers, l)
		}
		u.env = MergeEnv(rep, layers...)
		if len(s.File.Ports) > 0 {
			u.ports = append([]int(nil), s.File.Ports...)
			sort.Ints(u.ports)
		} else {
			u.ports = ListeningPorts(rep, opts.PortEnv)
		}
		if len(s.File.Mounts) > 0 {
			u.mounts = map[string]string{}
			for target, src := range s.File.Mounts {
				abs, err := workspace.InsidePath(ws.Root, ws.Root, src)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: mounts.%s: %v", s.FilePath, target, err))
					continue
				}
				u.mounts[target] = relDot(ws.Root, abs)
			}
		}
		for i, c := range u.configs {
			abs, err := workspace.InsidePath(ws.Root, s.Dir, c.Source)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: configs[%d]: %v", s.FilePath, i, err))
				continue
			}
			if i == 0 {
				u.configs = append([]workspace.ConfigMount(nil), u.configs...)
			}
			u.configs[i].Source = relDot(ws.Root, abs)
		}
		for _, d := range ws.DependsOn(name) {
			if present[d] {
				u.dependsOn = append(u.dependsOn, d)
			}
		}
		units = append(units, u)
	}
	hosts := make(map[string][]string, len(ws.Services))
	for n, s := range ws.Services {
		hosts[n] = s.Hosts
	}
	return build(units, Groups(hosts), opts, errs)
}

func relDot(root, abs string) string {
	r, err := filepath.Rel(root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	if r == "." {
		return "."
	}
	return "./" + filepath.ToSlash(r)
}

// profileTags returns, per service, the compose profiles that start it: its own name, every
// service whose closure holds it, and every profile whose closure holds it. A profile shadows
// a service of the same name (as in Resolve).
func profileTags(ws *workspace.Workspace) map[string][]string {
	tags := map[string][]string{}
	add := func(target string, closure []string) {
		for _, s := range closure {
			tags[s] = append(tags[s], target)
		}
	}
	for _, name := range ws.ServiceNames() {
		if _, shadowed := ws.Profiles[name]; !shadowed {
			add(name, ws.Closure([]string{name}))
		}
	}
	for _, p := range ws.ProfileNames() {
		sel, err := ws.Resolve([]string{p})
		if err == nil {
			add(p, sel.Services)
		}
	}
	for s := range tags {
		tags[s] = uniqSorted(tags[s])
	}
	return tags
}

// Jobs converts production jobs to compose YAML (FromJobs + YAML).
func Jobs(jobs []*job.Job, opts Options) ([]byte, error) {
	p, err := FromJobs(jobs, opts)
	if err != nil {
		return nil, err
	}
	return p.YAML()
}

// Workspace converts a workspace (or a selection of it) to compose YAML (FromWorkspace + YAML).
func Workspace(ws *workspace.Workspace, sel *workspace.Selection, opts Options) ([]byte, error) {
	p, err := FromWorkspace(ws, sel, opts)
	if err != nil {
		return nil, err
	}
	return p.YAML()
}

func joinComma(s []string) string { return strings.Join(s, ",") }
