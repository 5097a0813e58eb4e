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
	// PortTaken, when set, says whether a production port is taken on this machine (by
	// something else than this project): such a port is published on a host port the daemon
	// picks, as one another service of the project publishes already is.
	PortTaken func(port int) bool
	// HostPorts are, per namespace owner (compose service) and production port, the host
	// port its running container publishes: kept, so that re-rendering the model (an up of
	// other targets, a recreate, an isolated stack's rebuild) never moves a running
	// service's address.
	HostPorts map[string]map[int]int
	// FreePort, when set, picks a free host port for a port that cannot be published on
	// itself (EphemeralPorts, or taken): the container is created with it, so a recreate
	// keeps it (HostPorts). Nil: the daemon picks ("127.0.0.1::8080") at every creation.
	FreePort func() (int, error)
	// Images maps a local service to its built image (clocal/<svc>:<hash12>); a service without
	// an entry runs its production image. Workspace conversions only.
	Images map[string]string
	// Remote names the Docker host when it is another machine (ssh://devbox): files of this
	// machine cannot be bind-mounted there, so service-file configs: go in as content
	// (compose copies them into the container before it starts) and mounts: of workspace
	// folders are refused (RemoteMountError).
	Remote string
	// Health is how service-file healthchecks become container healthchecks (health.go).
	Health HealthPolicy
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

// Group is the part of a workspace.Group present in a project: services sharing one network
// namespace because production reaches one from the other over localhost.
type Group struct {
	// Name is the compose service owning the namespace and publishing the ports: the pause
	// service "host-<first host>" when Pause, else the only member.
	Name    string
	Pause   bool
	Members []string // compose service names, sorted
	Hosts   []string // production hosts, sorted
}

// Router is a service that stands for a production host whose jobs run in several network
// namespaces locally: it carries the host name as network alias and forwards each port to
// the namespace of the job listening on it there, so HOST:PORT reaches exactly that job.
type Router struct {
	Name  string // compose service, "router-<host>"
	Host  string
	Ports map[int]string // port -> compose service owning the namespace of the job listening on it
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
	prebuilt     bool
	contents     []string // each config's content, when configs go in as content (remote host)
}

// Plan is a converted project before rendering: the compose services, their groups and the
// warnings found. Render it with YAML.
type Plan struct {
	Groups   []Group  // every group with at least one service in the project
	Routers  []Router // production hosts standing for several namespaces
	Warnings []string // non-fatal problems (unknown restart policies)
	// Rehomed counts the ports published on a host port the daemon picks because another
	// service of the project publishes the same production port (clocal port/ps/env show
	// the real one).
	Rehomed int

	file     composeFile
	owner    map[string]string
	ports    map[string][]int
	prebuilt map[string]bool
}

// Prebuilt reports whether a service runs an image clocal does not build (its production
// image, pulled when missing): no service folder claims its jobs or the folder has no
// Dockerfile.
func (p *Plan) Prebuilt(service string) bool { return p.prebuilt[service] }

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
// named by the job name, production images, no profiles and no depends_on between jobs; the
// address model of a workspace (namespaces from localhost addresses, routers for shared
// hosts).
func FromJobs(jobs []*job.Job, opts Options) (*Plan, error) {
	opts.defaults(nil)
	taken := make(map[string]bool, len(jobs))
	names := make(map[*job.Job]string, len(jobs))
	var errs []string
	var valid []*job.Job
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
		names[j] = name
		if j.Image == "" {
			errs = append(errs, fmt.Sprintf("%s: job %q has no image", j.Pos, j.Name))
		}
		valid = append(valid, j)
	}
	ws, err := workspace.FromJobs(valid, opts.PortEnv, func(j *job.Job) string { return names[j] })
	if err != nil {
		return nil, err
	}
	units := make([]*unit, 0, len(valid))
	for _, j := range valid {
		s := ws.Services[names[j]]
		if s == nil {
			continue
		}
		u := &unit{name: s.Name, local: j.Name, jobs: s.Jobs, hosts: s.Hosts, image: j.Image, env: MergeEnv(j),
			ports: s.Ports, prebuilt: true}
		if j.Pos.File != "" {
			u.sources = []string{j.Pos.File}
		}
		units = append(units, u)
	}
	return build(ws, units, opts, errs)
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
			privileged: s.File.Privileged, dockerSocket: s.File.DockerSocket, profiles: tags[name],
			prebuilt: s.Prebuilt, ports: s.Ports}
		if img, ok := opts.Images[name]; ok && img != "" {
			u.image = img
		}
		var layers []map[string]string
		for _, l := range s.EnvLayers(overrides[name].Env) {
			layers = append(layers, l)
		}
		u.env = MergeEnv(rep, layers...)
		if opts.Remote != "" {
			if err := RemoteMounts(s, opts.Remote); err != nil {
				errs = append(errs, err.Error())
				continue
			}
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
			if opts.Remote != "" {
				content, err := configContent(abs)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: configs[%d]: %v", s.FilePath, i, err))
					continue
				}
				if u.contents == nil {
					u.contents = make([]string, len(u.configs))
				}
				u.contents[i] = content
			}
		}
		for _, d := range ws.DependsOn(name) {
			if present[d] {
				u.dependsOn = append(u.dependsOn, d)
			}
		}
		units = append(units, u)
	}
	return build(ws, units, opts, errs)
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
// service whose closure holds it, every profile whose closure holds it, and "all" (unless a
// profile or service is named so). A profile shadows
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
	if _, named := ws.Profiles[workspace.AllTarget]; !named && ws.Lookup(workspace.AllTarget) == nil {
		add(workspace.AllTarget, ws.ServiceNames()) // `clocal up all`
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
