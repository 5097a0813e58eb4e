// Package workspace loads a clocal workspace: clocal.yaml, services/<svc>/ (service.yaml and the
// production job files), profiles/<name>.yaml and the per-developer clocal.local.yaml. It maps
// production jobs and hosts to local services, computes the dependency graph (declared and
// inferred from env values) and resolves targets to the transitive closure that `clocal up` starts.
//
// Decisions (see also Resolve and Load):
//   - Every YAML file is decoded strictly: unknown keys, duplicate keys and wrong types are errors
//     naming FILE:LINE and the key ("unknown key \"helthcheck\" (did you mean \"healthcheck\"?)").
//     Load collects every error of every file and returns them joined (one per line).
//   - Several production instances (jobs) of a service folder are ONE local service named after
//     the folder; `split_instances: true` makes one local service per job, named by the job.
//   - Paths: `source`, `jobs`, `build.*` and `configs[].source` are relative to the service folder
//     (`jobs` relative to jobs_root when clocal.yaml sets it); `mounts` values and clocal.local.yaml
//     `sources` are relative to the workspace root (the folder of the file that holds them).
//   - A declared dependency cycle is an error. An inferred edge (from an env value) that would close
//     a cycle is kept for the closure (the service is still started) but is marked Cyclic, gives no
//     compose depends_on (compose refuses cycles), and produces a warning in Workspace.Warnings.
//   - A target that is both a profile name and a service/job/host name means the profile.
package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"

	"github.com/clocal-dev/clocal/internal/job"
)

const (
	// ConfigFile marks the workspace root.
	ConfigFile = "clocal.yaml"
	// LocalFile holds per-developer overrides; it is git-ignored.
	LocalFile = "clocal.local.yaml"
	// EnvVar names the workspace root, overriding the walk up from the current directory.
	EnvVar = "CLOCAL_WORKSPACE"
	// ServiceFileName is the local file of a service folder.
	ServiceFileName = "service.yaml"
)

// DefaultPortEnv is the default port_env rule: env keys whose integer value is a listening port.
var DefaultPortEnv = []string{"port", "PORT", "*_port", "*_PORT"}

// Config is clocal.yaml.
type Config struct {
	Name     string   `yaml:"name"`
	PortEnv  []string `yaml:"port_env" want:"a list of env key globs"`
	JobsRoot string   `yaml:"jobs_root"`
	// JobsFiles are the file name globs read under jobs_root (default: the job extensions
	// .job, .jobs, .textproto, .txtpb, .pb.txt, .pbtxt, .prototxt, .textpb).
	JobsFiles []string  `yaml:"jobs_files" want:"a list of file name globs"`
	Log       LogConfig `yaml:"log"`
	// Schema names production's own .proto for job files (default: the built-in schema).
	Schema *SchemaConfig `yaml:"schema"`
	// RouterImage names the company registry's copy of clocal's router image (a
	// repository: the router's code hash is the tag; or a full reference), for machines
	// that cannot make it (internal/routerimage).
	RouterImage string `yaml:"router_image"`
}

// SchemaConfig is the `schema:` section of clocal.yaml.
type SchemaConfig struct {
	Proto   string `yaml:"proto"`   // .proto file, relative to the workspace root
	Message string `yaml:"message"` // full name of the message of a whole job file
	// ImportPaths are extra folders imports are searched in (relative to the root).
	ImportPaths []string `yaml:"import_paths" want:"a list of folders"`
	// Fields renames what clocal reads: {run_on_host: host, envs.key: name, ...}.
	Fields map[string]string `yaml:"fields" want:"a mapping of clocal field names to the schema's"`
}

// LogConfig is the json-file log rotation applied to every container.
type LogConfig struct {
	MaxSize string `yaml:"max_size"` // e.g. 10m
	MaxFile int    `yaml:"max_file"`
}

// ServiceFile is services/<svc>/service.yaml. Every key is optional.
type ServiceFile struct {
	Jobs              []string          `yaml:"jobs" want:"a list of file globs"`
	Source            string            `yaml:"source"`
	Repo              string            `yaml:"repo"` // where the source is cloned from (doctor prints the clone command)
	SplitInstances    bool              `yaml:"split_instances"`
	Build             BuildConfig       `yaml:"build"`
	Watch             WatchConfig       `yaml:"watch"`
	Healthcheck       *Healthcheck      `yaml:"healthcheck"`
	Env               Env               `yaml:"env"`
	DependsOn         []string          `yaml:"depends_on" want:"a list of names"`
	Ports             []int             `yaml:"ports" want:"a list of port numbers"`
	Match             *Match            `yaml:"match"`
	ShareLocalhost    []string          `yaml:"share_localhost" want:"a list of service names"`
	Mounts            map[string]string `yaml:"mounts" want:"a mapping of container paths to workspace folders"`
	Configs           []ConfigMount     `yaml:"configs"`
	RestartDependents bool              `yaml:"restart_dependents"`
	Privileged        bool              `yaml:"privileged"`
	DockerSocket      bool              `yaml:"docker_socket"`
}

// BuildConfig is the `build:` section of service.yaml (paths relative to the service folder).
type BuildConfig struct {
	Script     string   `yaml:"script"`
	Dockerfile string   `yaml:"dockerfile"`
	Context    string   `yaml:"context"`
	Env        Env      `yaml:"env"`
	Outputs    []string `yaml:"outputs"`
	// Inputs are extra folders the build reads besides the source (shared libraries):
	// hashed and watched like the source.
	Inputs []string `yaml:"inputs"`
}

// WatchConfig is the `watch:` section of service.yaml.
type WatchConfig struct {
	Ignore []string `yaml:"ignore"`
}

// Healthcheck is the compose healthcheck of a service.
type Healthcheck struct {
	Test        StringList `yaml:"test"`
	Interval    string     `yaml:"interval"`
	Timeout     string     `yaml:"timeout"`
	Retries     int        `yaml:"retries"`
	StartPeriod string     `yaml:"start_period"`
}

// ConfigMount is a local config file mounted read-only over the image's.
type ConfigMount struct {
	Source string `yaml:"source"` // relative to the service folder
	Target string `yaml:"target"` // absolute path in the container
}

// Profile is profiles/<name>.yaml.
type Profile struct {
	Name        string              `yaml:"-"`
	File        string              `yaml:"-"` // workspace-relative path
	Description string              `yaml:"description"`
	Services    []string            `yaml:"services" want:"a list of names"`
	Overrides   map[string]Override `yaml:"overrides"`

	// resolved is Overrides keyed by local service name.
	resolved map[string]Override
}

// Override is what a profile changes for one service.
type Override struct {
	Env Env `yaml:"env"`
}

// LocalConfig is clocal.local.yaml (per developer, git-ignored).
type LocalConfig struct {
	Sources map[string]string `yaml:"sources" want:"a mapping of service names to source folders"`
	Env     map[string]Env    `yaml:"env" want:"a mapping of service names to env mappings"`
	// HealthcheckInterval replaces the interval of every service's healthcheck on this
	// machine: each probe is a runc exec, so a small laptop running a whole stack all day
	// may prefer 3s (less idle CPU) to the example's 1s (faster ready after a rebuild).
	HealthcheckInterval string `yaml:"healthcheck_interval"`
	// BuildHost is the Docker daemon build.sh's own docker commands talk to when the stack
	// runs on another machine (DOCKER_HOST=ssh://…): "local" (default: this machine's),
	// "run" (the host the stack runs on), a Docker host URL or a docker context name.
	BuildHost string `yaml:"build_host"`
	// RouterImage replaces clocal.yaml's router_image on this machine.
	RouterImage string `yaml:"router_image"`
}

// RouterImage is router_image as it applies on this machine: clocal.local.yaml's, else
// clocal.yaml's ("" when neither sets it).
func (ws *Workspace) RouterImage() string {
	if ws.Local.RouterImage != "" {
		return ws.Local.RouterImage
	}
	return ws.Config.RouterImage
}

// Healthcheck returns the service's healthcheck as it runs on this machine (with the
// developer's healthcheck_interval applied), or nil.
func (ws *Workspace) Healthcheck(s *Service) *Healthcheck {
	if s == nil || s.File == nil || s.File.Healthcheck == nil {
		return nil
	}
	h := *s.File.Healthcheck
	if ws.Local.HealthcheckInterval != "" {
		h.Interval = ws.Local.HealthcheckInterval
	}
	return &h
}

// Service is one local service.
type Service struct {
	Name string // local service name (folder name, or job name with split_instances or split replicas)
	// Folder is the services/<folder> it comes from; for jobs no folder claims, the image's
	// repository name (FilePath and Dir are then empty).
	Folder   string
	Dir      string       // absolute path of the service folder ("" without one)
	File     *ServiceFile // never nil (empty when the folder has no service.yaml)
	FilePath string       // "services/<folder>/service.yaml", workspace-relative, even when absent; "" without a folder
	// Image is the production image of its (first) job.
	Image string
	// Prebuilt marks a service clocal does not build: no service folder claims its jobs, or
	// the folder has no Dockerfile. It runs its production Image as is (pulled when missing).
	Prebuilt bool
	// Ports are the ports it listens on (of its jobs: replicas that listen elsewhere are
	// other services), sorted.
	Ports    []int
	Jobs     []*job.Job // production jobs, in file order
	JobFiles []string   // job files, workspace-relative (slash separated), sorted
	Hosts    []string   // distinct production hosts (run_on_host), sorted
	Source   string     // absolute source folder after clocal.local.yaml; "" when none
	DotEnv   Env        // env from the workspace's .env (after the profile, before LocalEnv)
	LocalEnv Env        // env from clocal.local.yaml (applied last)

	lines map[string]int // service.yaml key lines
}

// JobNames returns the names of the service's jobs in file order.
func (s *Service) JobNames() []string {
	out := make([]string, len(s.Jobs))
	for i, j := range s.Jobs {
		out[i] = j.Name
	}
	return out
}

// Line returns the line of a key path in service.yaml ("depends_on[1]"), 0 when unknown.
func (s *Service) Line(key string) int { return s.lines[key] }

// typeError reports whether the value at key had the wrong type (already reported).
func (s *Service) typeError(key string) bool { return s.lines["!"+key] != 0 }

// Workspace is a loaded workspace.
type Workspace struct {
	Root     string // absolute
	Config   Config // with defaults applied
	Local    LocalConfig
	DotEnv   Env // the workspace's .env (per developer, git-ignored), nil when absent
	Services map[string]*Service
	Profiles map[string]*Profile
	// Edges is every dependency edge, sorted by From, To, Kind. Cyclic edges are included.
	Edges []Edge
	// Warnings are problems that do not stop `up` (missing sources), printed by every command.
	Warnings []string
	// Findings are what the model says once, in `graph` and `validate`: ambiguous
	// addresses, split replicas, cycles, replicas that differ.
	Findings []Finding
	// Groups are the network-namespace groups, sorted by Name.
	Groups []*Group
	// Schema is what job files are read with.
	Schema *job.Schema

	index   map[string][]string // service, folder, job and host names -> services
	groupOf map[string]*Group
	hosts   map[string][]Listener
	// hostNames is which names denote one production host (FQDN or short).
	hostNames *hostIndex
	adj       map[string][]string // From -> To over every edge (closure)
	deps      map[string][]string // From -> To over non-cyclic edges, sorted (start order)
}

// Find returns the workspace root: $CLOCAL_WORKSPACE when set, else the nearest folder at or
// above start holding clocal.yaml.
func Find(start string) (string, error) {
	if env := os.Getenv(EnvVar); env != "" {
		root, err := filepath.Abs(env)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvVar, env, err)
		}
		if _, err := os.Stat(filepath.Join(root, ConfigFile)); err != nil {
			return "", fmt.Errorf("%s=%s: no %s there", EnvVar, env, ConfigFile)
		}
		return root, nil
	}
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", fmt.Errorf("find workspace: %w", err)
	}
	for d := dir; ; {
		if st, err := os.Stat(filepath.Join(d, ConfigFile)); err == nil && !st.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("no %s found in %s or any parent folder (set %s or pass -w)", ConfigFile, dir, EnvVar)
}

// ProjectName is the compose project name of the workspace: "<name>-<8 hex of sha256(root)>",
// so two checkouts never share a stack.
func (ws *Workspace) ProjectName() string { return ProjectName(ws.Config.Name, ws.Root) }

// ProjectName derives a compose-valid project name from a name (folder name when empty) and the
// absolute workspace root.
func ProjectName(name, root string) string {
	if name == "" {
		name = filepath.Base(root)
	}
	sum := sha256.Sum256([]byte(root))
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else if b.Len() > 0 {
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-_")
	if n == "" {
		n = "clocal"
	}
	return n + "-" + hex.EncodeToString(sum[:])[:8]
}

// ServiceNames returns the local service names, sorted.
func (ws *Workspace) ServiceNames() []string { return sortedKeys(ws.Services) }

// ProfileNames returns the profile names, sorted.
func (ws *Workspace) ProfileNames() []string { return sortedKeys(ws.Profiles) }

// Lookup resolves a local service name, a service folder name, a production job name or a
// production host name to the local service names (sorted); nil when unknown. A service (or
// folder) name wins over a job name, which wins over a host name.
func (ws *Workspace) Lookup(name string) []string {
	return ws.index[name]
}

// EnvLayers returns the env layers of a service after the job's own env: service.yaml env,
// then the given profile overrides (may be nil), then the workspace's .env, then
// clocal.local.yaml env. Later layers win.
func (s *Service) EnvLayers(profile map[string]string) []Env {
	return []Env{s.File.Env, profile, s.DotEnv, s.LocalEnv}
}

var profileNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
var serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
var logSizeRE = regexp.MustCompile(`^[0-9]+[kmg]?$`)

type loader struct {
	root     string
	errs     []error
	warn     []string
	notes    *notes
	schema   *job.Schema
	cfgLines map[string]int
	jobsRoot string
	// fileOwner maps a job file to the service folder that names it.
	fileOwner map[string]string
}

func (l *loader) jobErrorf(j *job.Job, format string, args ...any) {
	l.errs = append(l.errs, &posError{File: j.Pos.File, Line: j.Pos.Line, Col: j.Pos.Col, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.errs = append(l.errs, &posError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) rel(abs string) string {
	r, err := filepath.Rel(l.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

func (l *loader) read(rel string, out any, lines map[string]int, optional bool) bool {
	data, err := os.ReadFile(filepath.Join(l.root, filepath.FromSlash(rel)))
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return false
		}
		l.errs = append(l.errs, fmt.Errorf("%s: %w", rel, err))
		return false
	}
	l.errs = append(l.errs, decodeFile(rel, data, out, lines)...)
	return true
}

// Load reads the workspace at root. Every problem of every file is reported: the error joins
// them, one "FILE:LINE: message" per line. On error the Workspace is nil.
func Load(root string) (*Workspace, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("load workspace %s: %w", root, err)
	}
	l := &loader{root: abs, notes: newNotes(abs), fileOwner: map[string]string{}}
	ws := &Workspace{Root: abs, Services: map[string]*Service{}, Profiles: map[string]*Profile{}, index: map[string][]string{}}

	l.cfgLines = map[string]int{}
	if _, err := os.Stat(filepath.Join(abs, ConfigFile)); err != nil {
		return nil, fmt.Errorf("load workspace %s: %w", abs, err)
	}
	l.read(ConfigFile, &ws.Config, l.cfgLines, false)
	l.checkConfig(&ws.Config, l.cfgLines)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	ws.Schema = l.schema
	localLines := map[string]int{}
	l.read(LocalFile, &ws.Local, localLines, true)

	folders := l.readFolders(ws)
	files := l.readJobFiles(ws, folders)
	apps := l.assign(folders, files)
	m := newModel(apps, ws.Config.PortEnv, func(a *app) []int {
		if a.folder != nil && len(a.folder.file.Ports) > 0 {
			p := append([]int(nil), a.folder.file.Ports...)
			sort.Ints(p)
			return p
		}
		return nil
	}, func(a *app) []string {
		if a.folder == nil {
			return nil
		}
		return a.folder.file.ShareLocalhost
	}, l.notes)
	l.makeServices(ws, m, apps)
	l.buildIndex(ws)
	l.loadProfiles(ws)
	l.applyLocal(ws, localLines)
	l.loadDotEnv(ws)
	l.checkServiceFiles(ws)
	l.buildNet(ws, m)
	l.buildEdges(ws, m)

	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	ws.Warnings = l.warn
	ws.Findings = l.notes.findings()
	return ws, nil
}

func (l *loader) checkConfig(c *Config, lines map[string]int) {
	if c.PortEnv == nil {
		c.PortEnv = append([]string(nil), DefaultPortEnv...)
	}
	for i, p := range c.PortEnv {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			l.errorf(ConfigFile, lines[fmt.Sprintf("port_env[%d]", i)], "port_env[%d]: invalid glob %q", i, p)
		}
	}
	if c.Log.MaxSize == "" {
		c.Log.MaxSize = "10m"
	} else if !logSizeRE.MatchString(c.Log.MaxSize) {
		l.errorf(ConfigFile, lines["log.max_size"], "log.max_size: invalid size %q (want a number with an optional k, m or g suffix)", c.Log.MaxSize)
	}
	if c.Log.MaxFile == 0 {
		c.Log.MaxFile = 3
	} else if c.Log.MaxFile < 1 {
		l.errorf(ConfigFile, lines["log.max_file"], "log.max_file: must be at least 1, got %d", c.Log.MaxFile)
	}
	for i, g := range c.JobsFiles {
		if _, err := path.Match(g, ""); err != nil || g == "" || strings.Contains(g, "/") {
			l.errorf(ConfigFile, lines[fmt.Sprintf("jobs_files[%d]", i)], "jobs_files[%d]: invalid file name glob %q", i, g)
		}
	}
	if c.JobsRoot != "" {
		// production's folder may live anywhere (a checkout next to the workspace)
		p := c.JobsRoot
		if !filepath.IsAbs(p) {
			p = filepath.Join(l.root, filepath.FromSlash(p))
		}
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			l.errorf(ConfigFile, lines["jobs_root"], "jobs_root: %s is not a folder", c.JobsRoot)
		} else {
			l.jobsRoot = c.JobsRoot
		}
	}
	if c.RouterImage != "" {
		if err := checkImageRef(c.RouterImage); err != nil {
			l.errorf(ConfigFile, lines["router_image"], "router_image: %v", err)
		}
	}
	l.schema = job.Builtin()
	if sc := c.Schema; sc != nil {
		s, err := job.CompileSchema(context.Background(), job.SchemaConfig{Proto: sc.Proto, Message: sc.Message,
			ImportPaths: sc.ImportPaths, Fields: sc.Fields, Dir: l.root})
		if err != nil {
			l.errorf(ConfigFile, lines["schema"], "schema: %v", err)
		} else {
			l.schema = s
		}
	}
}

// names returns every name Lookup knows, sorted (for suggestions).
func (ws *Workspace) names() []string { return sortedKeys(ws.index) }

func (l *loader) loadProfiles(ws *Workspace) {
	matches, _ := filepath.Glob(filepath.Join(l.root, "profiles", "*.yaml"))
	sort.Strings(matches)
	for _, m := range matches {
		name := strings.TrimSuffix(filepath.Base(m), ".yaml")
		rel := "profiles/" + filepath.Base(m)
		if !profileNameRE.MatchString(name) {
			l.errorf(rel, 0, "profile name %q is not valid (letters, digits, '.', '_', '-'; starting with a letter or digit)", name)
			continue
		}
		p := &Profile{Name: name, File: rel, resolved: map[string]Override{}}
		lines := map[string]int{}
		l.read(rel, p, lines, false)
		for i, s := range p.Services {
			if ws.Lookup(s) == nil {
				l.errorf(rel, lines[fmt.Sprintf("services[%d]", i)], "services[%d]: unknown service %q%s", i, s, didYouMean(s, ws.names()))
			}
		}
		for _, k := range sortedKeys(p.Overrides) {
			svcs := ws.Lookup(k)
			if svcs == nil {
				l.errorf(rel, lines["overrides."+k], "overrides: unknown service %q%s", k, didYouMean(k, ws.names()))
				continue
			}
			for _, s := range svcs {
				o := p.resolved[s]
				o.Env = mergeEnv(o.Env, p.Overrides[k].Env)
				p.resolved[s] = o
			}
		}
		ws.Profiles[name] = p
	}
}

func mergeEnv(a, b Env) Env {
	if len(b) == 0 {
		return a
	}
	out := Env{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (l *loader) applyLocal(ws *Workspace, lines map[string]int) {
	for _, k := range sortedKeys(ws.Local.Sources) {
		svcs := ws.Lookup(k)
		if svcs == nil {
			l.errorf(LocalFile, lines["sources."+k], "sources: unknown service %q%s", k, didYouMean(k, ws.names()))
			continue
		}
		p := ws.Local.Sources[k]
		if strings.HasPrefix(p, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				p = filepath.Join(home, p[2:])
			}
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(l.root, filepath.FromSlash(p))
		}
		for _, s := range svcs {
			ws.Services[s].Source = filepath.Clean(p)
		}
	}
	for _, k := range sortedKeys(ws.Local.Env) {
		svcs := ws.Lookup(k)
		if svcs == nil {
			l.errorf(LocalFile, lines["env."+k], "env: unknown service %q%s", k, didYouMean(k, ws.names()))
			continue
		}
		for _, s := range svcs {
			ws.Services[s].LocalEnv = mergeEnv(ws.Services[s].LocalEnv, ws.Local.Env[k])
		}
	}
	if b := ws.Local.BuildHost; b != "" && !validBuildHost(b) {
		l.errorf(LocalFile, lines["build_host"], "build_host: %q is not local, run, a Docker host URL (unix://, tcp://, ssh://) or a docker context name", b)
	}
	if r := ws.Local.RouterImage; r != "" {
		if err := checkImageRef(r); err != nil {
			l.errorf(LocalFile, lines["router_image"], "router_image: %v", err)
		}
	}
	if d := ws.Local.HealthcheckInterval; d != "" && !validDuration(d) {
		l.errorf(LocalFile, lines["healthcheck_interval"], "healthcheck_interval: invalid duration %q (e.g. 1s, 500ms, 1m30s)", d)
	}
	var missing []string
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		if s.Source == "" {
			continue
		}
		if st, err := os.Stat(s.Source); err != nil || !st.IsDir() {
			missing = append(missing, name)
			if len(missing) <= 3 {
				l.warn = append(l.warn, fmt.Sprintf("service %s: source folder %s does not exist", name, s.Source))
			}
		}
	}
	if len(missing) > 3 { // said on every command: aggregated
		l.warn = append(l.warn, fmt.Sprintf("and %d more services whose source folder does not exist (%s...): clocal doctor lists them", len(missing)-3, strings.Join(missing[3:min(len(missing), 8)], ", ")))
	}
}

// checkServiceFiles validates what service.yaml says beyond types: port range, healthcheck
// durations, mounts and configs paths. Each folder is checked once.
func (l *loader) checkServiceFiles(ws *Workspace) {
	done := map[string]bool{}
	for _, name := range ws.ServiceNames() {
		s := ws.Services[name]
		if done[s.Folder] {
			continue
		}
		done[s.Folder] = true
		f, file := s.File, s.FilePath
		for i, p := range f.Ports {
			if (p < 1 || p > 65535) && !s.typeError(fmt.Sprintf("ports[%d]", i)) {
				l.errorf(file, s.Line(fmt.Sprintf("ports[%d]", i)), "ports[%d]: %d is not a port (1-65535)", i, p)
			}
		}
		if h := f.Healthcheck; h != nil {
			if len(h.Test) == 0 {
				l.errorf(file, s.Line("healthcheck"), "healthcheck: test is required")
			}
			for _, d := range []struct{ key, val string }{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}} {
				if d.val != "" && !validDuration(d.val) {
					l.errorf(file, s.Line("healthcheck."+d.key), "healthcheck.%s: invalid duration %q (e.g. 1s, 500ms, 1m30s)", d.key, d.val)
				}
			}
			if h.Retries < 0 {
				l.errorf(file, s.Line("healthcheck.retries"), "healthcheck.retries: must not be negative")
			}
		}
		for _, target := range sortedKeys(f.Mounts) {
			line := s.Line("mounts." + target)
			if !path.IsAbs(target) || path.Clean(target) != target {
				l.errorf(file, line, "mounts: container path %q must be absolute and clean", target)
			}
			if _, err := InsidePath(l.root, l.root, f.Mounts[target]); err != nil {
				l.errorf(file, line, "mounts.%s: %v", target, err)
			}
		}
		for i, c := range f.Configs {
			line := s.Line(fmt.Sprintf("configs[%d]", i))
			if c.Source == "" || c.Target == "" {
				l.errorf(file, line, "configs[%d]: source and target are required", i)
				continue
			}
			if !path.IsAbs(c.Target) || path.Clean(c.Target) != c.Target {
				l.errorf(file, line, "configs[%d]: target %q must be an absolute, clean container path", i, c.Target)
			}
			p, err := InsidePath(l.root, s.Dir, c.Source)
			if err != nil {
				l.errorf(file, line, "configs[%d]: %v", i, err)
				continue
			}
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				l.errorf(file, line, "configs[%d]: %s is not a file", i, l.rel(p))
			}
		}
	}
}

var durationRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`)

func validDuration(s string) bool { return durationRE.MatchString(s) }

// InsidePath resolves p (relative to base, or absolute) and checks that it stays inside root,
// also after resolving symlinks of the part that exists. It returns the absolute path.
func InsidePath(root, base, p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(base, filepath.FromSlash(p))
	}
	abs = filepath.Clean(abs)
	if !within(root, abs) {
		return "", fmt.Errorf("%q is outside the workspace", p)
	}
	// resolve symlinks on the longest existing prefix
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		realRoot = root
	}
	existing, rest := abs, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return abs, nil
	}
	if !within(realRoot, filepath.Join(real, rest)) {
		return "", fmt.Errorf("%q leaves the workspace through a symlink", p)
	}
	return abs, nil
}

func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkImageRef says why ref is not an image reference (REGISTRY/PATH[:TAG|@DIGEST]).
func checkImageRef(ref string) error {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("%q is not an image reference (want REGISTRY/PATH/NAME, optionally :TAG): %v", ref, err)
	}
	return nil
}

var contextNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]*$`)

// validBuildHost accepts local, run, a Docker host URL of a known scheme or a docker context
// name (whether that context exists is checked when it is used).
func validBuildHost(b string) bool {
	if scheme, rest, ok := strings.Cut(b, "://"); ok {
		switch scheme {
		case "unix", "tcp", "ssh", "npipe", "fd":
			return rest != ""
		}
		return false
	}
	return contextNameRe.MatchString(b)
}
