// Package fleet generates production-shaped fleets for tests and benchmarks: hundreds of
// apps listening on a few shared ports on many hosts, replicas on several hosts (some on
// another port), sidecars that reach their partner over localhost, dependencies written as
// HOST:PORT, JOB:PORT, http://HOST:PORT/path or host + port keys, job files kept per host and
// per cluster, and a production .proto with more fields than clocal maps.
//
// The generator knows what every address reaches (Job.Refs): tests compare clocal's model
// with that ground truth. It is deterministic for a seed.
package fleet

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Options shape a fleet. Zero values take the defaults noted.
type Options struct {
	Apps  int   // apps (default 100)
	Hosts int   // production hosts (default Apps*3/10, at least 2)
	Seed  int64 // random seed
	// Ports are the listening ports apps share (default 8080, 8081, 9000, 9090, 3000, 5000,
	// 6379, 7000, 8443, 9100).
	Ports []int
	// MaxReplicas is the most replicas an app has (default 3).
	MaxReplicas int
	// Sidecars is the fraction of apps that are sidecars of another app (default 0.1).
	Sidecars float64
	// PortVariants is the fraction of multi-replica apps with one replica listening on
	// another port (default 0.05).
	PortVariants float64
	// MaxDeps is the most apps an app depends on (default 3): dependencies go down five
	// tiers (front ends to stores), plus the odd reference back up (a cycle) when Cycles.
	MaxDeps int
	Cycles  bool
	// Agents is the fraction of apps whose jobs reach a per-host agent over localhost
	// (default 0: no agent): the app "statsd-agent" runs one job on every host, all on
	// AgentPort (default 8125), and a replicated app's jobs each reach the agent of their own
	// host, next to other apps on some hosts and alone on others.
	Agents    float64
	AgentPort int
	// FQDN writes every other host's run_on_host as its full name (node001.dc1.acme.corp)
	// and every address of a host in the other form: full where run_on_host is short, short
	// where it is full.
	FQDN bool
	// Image names an app's production image (default registry.acme.io/team<k>/<app>:<ver>).
	Image func(app string) string
	// Folders is the fraction of apps given a services/<folder>/ (default 0.2, negative:
	// none); a tenth of those have a folder name other than the app's, with match:.
	Folders float64
	// Healthcheck, when set, is written into each folder's service.yaml, with
	// HealthInterval (default 1s).
	Healthcheck    []string
	HealthInterval string
}

// Fleet is a generated fleet with its ground truth.
type Fleet struct {
	Opts  Options
	Apps  []*App
	Jobs  []*Job
	Hosts []string
}

// App is one production app: its jobs and, when it has one, its service folder.
type App struct {
	Name    string
	Image   string
	Port    int
	Jobs    []*Job
	Sidecar *App   // the app this one is the sidecar of (reaches it over localhost)
	Deps    []*App // apps it depends on (one replica each)
	Folder  string // services/<Folder>, "" when none
	Match   bool   // the folder picks the app's jobs with match:
}

// Job is one production job.
type Job struct {
	Name  string
	App   *App
	Host  string
	Port  int
	Image string
	// RunOnHost is how the job file writes Host (Host, or its full name with FQDN).
	RunOnHost string
	Refs      []Ref
	File      string // job file (relative to the workspace root)
	Extras    bool   // carries fields of the production schema clocal does not map
}

// Ref is one env value holding an address, and what it reaches in production.
type Ref struct {
	Key, Value string
	// PortKey/PortValue: a host key's paired port key (Key is then "<x>_host").
	PortKey, PortValue string
	Target             *Job // the job the address reaches
	Local              bool // localhost:PORT
}

func (o *Options) defaults() {
	if o.Apps <= 0 {
		o.Apps = 100
	}
	if o.Hosts <= 0 {
		o.Hosts = max(2, o.Apps*3/10)
	}
	if len(o.Ports) == 0 {
		o.Ports = []int{8080, 8081, 9000, 9090, 3000, 5000, 6379, 7000, 8443, 9100}
	}
	if o.MaxReplicas <= 0 {
		o.MaxReplicas = 3
	}
	if o.Sidecars == 0 {
		o.Sidecars = 0.1
	}
	if o.PortVariants == 0 {
		o.PortVariants = 0.05
	}
	if o.MaxDeps == 0 {
		o.MaxDeps = 3
	}
	if o.AgentPort == 0 {
		o.AgentPort = 8125
	}
	if o.Folders == 0 {
		o.Folders = 0.2
	}
	if o.Folders < 0 {
		o.Folders = 0
	}
	if o.Image == nil {
		o.Image = func(app string) string {
			h := 0
			for _, c := range app {
				h += int(c)
			}
			return fmt.Sprintf("registry.acme.io/team%d/%s:2024.%d", h%7, app, h%12+1)
		}
	}
}

var words = []string{"billing", "ledger", "auth", "search", "mailer", "push", "repo", "blob", "kv", "queue",
	"gateway", "render", "avatar", "hook", "stats", "feed", "notify", "session", "profile", "cache"}

// Generate makes a fleet. Production never runs two jobs listening on one port on one host,
// and neither does a generated fleet.
func Generate(o Options) *Fleet {
	o.defaults()
	r := rand.New(rand.NewSource(o.Seed))
	f := &Fleet{Opts: o}
	for h := 0; h < o.Hosts; h++ {
		f.Hosts = append(f.Hosts, fmt.Sprintf("node%03d", h))
	}
	used := map[string]map[int]bool{} // host -> ports taken
	free := func(h string, p int) bool { return !used[h][p] }
	load := func(h string) int { return len(used[h]) }
	take := func(h string, p int) {
		if used[h] == nil {
			used[h] = map[int]bool{}
		}
		used[h][p] = true
	}
	for i := 0; i < o.Apps; i++ {
		name := fmt.Sprintf("%s%03d", words[i%len(words)], i)
		a := &App{Name: name, Image: o.Image(name)}
		f.Apps = append(f.Apps, a)
	}
	// sidecars: app i is the sidecar of an earlier app that has none yet
	partnered := map[*App]bool{}
	for i, a := range f.Apps {
		if i == 0 || r.Float64() >= o.Sidecars {
			continue
		}
		m := f.Apps[r.Intn(i)]
		if partnered[m] || m.Sidecar != nil {
			continue
		}
		a.Sidecar, partnered[m] = m, true
	}
	jobNo := 0
	newJob := func(a *App, host string, port int) *Job {
		jobNo++
		j := &Job{Name: fmt.Sprintf("%s-%d", a.Name, len(a.Jobs)+1), App: a, Host: host, Port: port, Image: a.Image, Extras: len(a.Name)%3 == 0 || jobNo%3 == 0 && len(a.Jobs) == 0}
		take(host, port)
		a.Jobs = append(a.Jobs, j)
		f.Jobs = append(f.Jobs, j)
		return j
	}
	pickPort := func(hosts []string, avoid int) int {
		for _, k := range r.Perm(len(o.Ports)) {
			p := o.Ports[k]
			if p == avoid {
				continue
			}
			ok := true
			for _, h := range hosts {
				ok = ok && free(h, p)
			}
			if ok {
				return p
			}
		}
		return 0
	}
	for _, a := range f.Apps {
		if a.Sidecar != nil {
			continue // placed with their partner below
		}
		n := 1 + r.Intn(o.MaxReplicas)
		hosts := pickHosts(r, f.Hosts, n, load)
		a.Port = pickPort(hosts, 0)
		for tries := 0; a.Port == 0; tries++ { // crowded: fewer hosts
			if tries > 100 {
				panic(fmt.Sprintf("fleet: %d hosts with %d ports are too few for %d apps", len(f.Hosts), len(o.Ports), len(f.Apps)))
			}
			hosts = pickHosts(r, f.Hosts, 1, load)
			a.Port = pickPort(hosts, 0)
		}
		variant := n > 1 && r.Float64() < o.PortVariants*float64(o.MaxReplicas)
		for k, h := range hosts {
			p := a.Port
			if variant && k == len(hosts)-1 {
				if q := pickPort([]string{h}, a.Port); q != 0 {
					p = q
				}
			}
			newJob(a, h, p)
		}
	}
	// sidecars: one replica next to each replica of the partner, on a port free on all of
	// the partner's hosts and other than each partner port (they share a namespace).
	for _, a := range f.Apps {
		m := a.Sidecar
		if m == nil {
			continue
		}
		var hosts []string
		for _, j := range m.Jobs {
			hosts = append(hosts, j.Host)
		}
		a.Port = pickPort(hosts, m.Port)
		for _, j := range m.Jobs {
			if a.Port == j.Port {
				a.Port = 0
			}
		}
		if a.Port == 0 { // no room: an ordinary app on a host of its own choosing
			a.Sidecar = nil
			h := pickHosts(r, f.Hosts, 1, load)
			if a.Port = pickPort(h, 0); a.Port == 0 {
				panic(fmt.Sprintf("fleet: %d hosts with %d ports are too few for %d apps", len(f.Hosts), len(o.Ports), len(f.Apps)))
			}
			newJob(a, h[0], a.Port)
			continue
		}
		for _, mj := range m.Jobs {
			sj := newJob(a, mj.Host, a.Port)
			sj.Refs = append(sj.Refs, Ref{Key: "upstream_addr", Value: "localhost:" + strconv.Itoa(mj.Port), Target: mj, Local: true})
		}
	}
	// dependencies: tiers, as production has them (front ends, services, back ends,
	// stores): an app depends on up to MaxDeps apps of the next tiers down, the same address
	// in every replica, written in one of production's styles; with Cycles, the odd app of a
	// lower tier calls back up.
	tiers := 5
	tierOf := func(i int) int { return i * tiers / len(f.Apps) }
	byTier := make([][]*App, tiers)
	for i, a := range f.Apps {
		byTier[tierOf(i)] = append(byTier[tierOf(i)], a)
	}
	for i, a := range f.Apps {
		k := tierOf(i)
		if k == tiers-1 {
			continue
		}
		n := r.Intn(o.MaxDeps + 1)
		if k > 1 {
			n = r.Intn(max(1, o.MaxDeps-k+2))
		}
		seen := map[*App]bool{a: true}
		for d := 0; d < n; d++ {
			down := byTier[min(tiers-1, k+1+r.Intn(2))]
			t := down[r.Intn(len(down))]
			if seen[t] || t.Sidecar == a || a.Sidecar == t {
				continue
			}
			seen[t] = true
			a.Deps = append(a.Deps, t)
		}
		if o.Cycles && k > 0 && r.Intn(40) == 0 {
			up := byTier[k-1]
			if t := up[r.Intn(len(up))]; !seen[t] && t.Sidecar != a && a.Sidecar != t {
				a.Deps = append(a.Deps, t)
			}
		}
	}
	for i, a := range f.Apps {
		for _, t := range a.Deps {
			tj := t.Jobs[r.Intn(len(t.Jobs))]
			style := r.Intn(10)
			for _, j := range a.Jobs {
				j.Refs = append(j.Refs, ref(t.Name, tj, style, f.hostRef))
			}
		}
		// an address outside the fleet: never a dependency
		if i%7 == 0 {
			for _, j := range a.Jobs {
				j.Refs = append(j.Refs, Ref{Key: "smtp_relay", Value: "smtp.acme.io:25"})
			}
		}
	}
	if o.Agents > 0 {
		f.agents(r)
	}
	// folders for some apps
	for i, a := range f.Apps {
		if r.Float64() >= o.Folders {
			continue
		}
		a.Folder = a.Name
		if i%10 == 3 {
			a.Folder, a.Match = "svc-"+a.Name, true
		}
	}
	for _, j := range f.Jobs {
		j.RunOnHost = f.runOnHost(j.Host)
	}
	f.assignFiles(r)
	return f
}

// agents adds the per-host agent and its users (Options.Agents).
func (f *Fleet) agents(r *rand.Rand) {
	o := f.Opts
	agent := &App{Name: "statsd-agent", Image: o.Image("statsd-agent"), Port: o.AgentPort}
	onHost := map[string]*Job{}
	for _, h := range f.Hosts {
		j := &Job{Name: fmt.Sprintf("%s-%d", agent.Name, len(agent.Jobs)+1), App: agent, Host: h, Port: o.AgentPort, Image: agent.Image}
		agent.Jobs = append(agent.Jobs, j)
		f.Jobs = append(f.Jobs, j)
		onHost[h] = j
	}
	for _, a := range f.Apps {
		if r.Float64() >= o.Agents {
			continue
		}
		for _, j := range a.Jobs {
			if j.Port == o.AgentPort {
				continue
			}
			j.Refs = append(j.Refs, Ref{Key: "STATSD_ADDR", Value: "localhost:" + strconv.Itoa(o.AgentPort), Target: onHost[j.Host], Local: true})
		}
	}
	f.Apps = append(f.Apps, agent)
}

// ref writes an address of job t in one of production's styles.
func ref(app string, t *Job, style int, hostRef func(string) string) Ref {
	key := app
	hp := hostRef(t.Host) + ":" + strconv.Itoa(t.Port)
	switch {
	case style < 4:
		return Ref{Key: key + "_addr", Value: hp, Target: t}
	case style < 6:
		return Ref{Key: key + "_addr", Value: t.Name + ":" + strconv.Itoa(t.Port), Target: t}
	case style < 8:
		return Ref{Key: key + "_url", Value: "http://" + hp + "/api/v1?x=1", Target: t}
	case style < 9:
		return Ref{Key: key + "_host", Value: hostRef(t.Host), PortKey: key + "_port", PortValue: strconv.Itoa(t.Port), Target: t}
	}
	return Ref{Key: strings.ToUpper(key) + "_ENDPOINT", Value: "grpc://" + hp, Target: t}
}

// fqdn reports whether a host's run_on_host is its full name (Options.FQDN).
func (f *Fleet) fqdn(h string) bool {
	n, _ := strconv.Atoi(strings.TrimPrefix(h, "node"))
	return f.Opts.FQDN && n%2 == 0
}

// runOnHost is how job files write a host.
func (f *Fleet) runOnHost(h string) string {
	if f.fqdn(h) {
		return h + ".dc1.acme.corp"
	}
	return h
}

// hostRef is how addresses write a host: the other form than run_on_host with FQDN.
func (f *Fleet) hostRef(h string) string {
	if f.Opts.FQDN && !f.fqdn(h) {
		return h + ".dc1.acme.corp"
	}
	return h
}

// pickHosts picks n distinct hosts among the least loaded ones (random among equals), as a
// scheduler spreads jobs.
func pickHosts(r *rand.Rand, hosts []string, n int, load func(string) int) []string {
	n = min(n, len(hosts))
	perm := r.Perm(len(hosts))
	sort.SliceStable(perm, func(i, j int) bool { return load(hosts[perm[i]]) < load(hosts[perm[j]]) })
	out := make([]string, 0, n)
	for _, k := range perm[:n] {
		out = append(out, hosts[k])
	}
	return out
}

// assignFiles keeps jobs per host (prod/hosts/<host>.jobs), and the jobs of every tenth
// host per cluster (prod/clusters/c<k>.jobs, several hosts and apps in one file).
func (f *Fleet) assignFiles(r *rand.Rand) {
	for _, j := range f.Jobs {
		n, _ := strconv.Atoi(strings.TrimPrefix(j.Host, "node"))
		if n%10 == 9 {
			j.File = fmt.Sprintf("prod/clusters/c%d.jobs", n/50)
		} else {
			j.File = "prod/hosts/" + j.Host + ".jobs"
		}
	}
	_ = r
}

// Services is the number of local services clocal should make of the fleet without agents:
// one per app, more for apps whose replicas listen on several ports.
func (f *Fleet) Services() int {
	n := 0
	for _, a := range f.Apps {
		ports := map[int]bool{}
		for _, j := range a.Jobs {
			ports[j.Port] = true
		}
		n += len(ports)
	}
	return n
}

// Write writes the fleet as a workspace under dir: clocal.yaml (jobs_root: prod, schema:),
// schema/deploy.proto, the job files under prod/, and services/<folder>/service.yaml for
// apps with a folder.
func (f *Fleet) Write(dir string) error {
	files := map[string]*strings.Builder{}
	var order []string
	for _, j := range f.Jobs {
		b := files[j.File]
		if b == nil {
			b = &strings.Builder{}
			files[j.File] = b
			order = append(order, j.File)
			fmt.Fprintf(b, "# %s: generated production jobs\ncluster: %q\n", j.File, "eu-"+strconv.Itoa(len(order)%3))
		}
		writeJob(b, j)
	}
	sort.Strings(order)
	write := func(rel, content string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
	for _, name := range order {
		if err := write(name, files[name].String()); err != nil {
			return err
		}
	}
	cfg := "name: fleet\njobs_root: prod\nport_env: [port, PORT, \"*_port\", \"*_PORT\"]\nschema: {proto: schema/deploy.proto, message: acme.deploy.JobFile}\n"
	if err := write("clocal.yaml", cfg); err != nil {
		return err
	}
	if err := write("schema/deploy.proto", Proto); err != nil {
		return err
	}
	if err := write("schema/acme/common.proto", CommonProto); err != nil {
		return err
	}
	// profiles/all.yaml: every app, by folder (or image) name
	var all []string
	for _, a := range f.Apps {
		if a.Folder != "" {
			all = append(all, a.Folder)
		} else {
			all = append(all, a.Name)
		}
	}
	if err := write("profiles/all.yaml", fmt.Sprintf("description: every app of the fleet\nservices: [%s]\n", strings.Join(all, ", "))); err != nil {
		return err
	}
	for _, a := range f.Apps {
		if a.Folder == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# local settings of %s\n", a.Name)
		if a.Match {
			fmt.Fprintf(&b, "match: {image: %q}\n", strings.SplitN(a.Image, ":", 2)[0])
		}
		if len(f.Opts.Healthcheck) > 0 {
			iv := f.Opts.HealthInterval
			if iv == "" {
				iv = "1s"
			}
			fmt.Fprintf(&b, "healthcheck: {test: [%s], interval: %s, timeout: 5s, retries: 120}\n", strings.Join(f.Opts.Healthcheck, ", "), iv)
		}
		if err := write("services/"+a.Folder+"/service.yaml", b.String()); err != nil {
			return err
		}
	}
	return nil
}

func writeJob(b *strings.Builder, j *Job) {
	open, close := "{", "}"
	if len(j.Name)%2 == 0 {
		open, close = "<", ">"
	}
	host := j.RunOnHost
	if host == "" {
		host = j.Host
	}
	fmt.Fprintf(b, "job %s\n  name: %q\n  image: %q\n  run_on_host: %q\n", open, j.Name, j.Image, host)
	key := "PORT"
	if len(j.Name)%3 == 0 {
		key = "port"
	}
	fmt.Fprintf(b, "  envs %s key: %q value: %q %s\n", open, key, strconv.Itoa(j.Port), close)
	fmt.Fprintf(b, "  envs %s key: \"LOG_LEVEL\" value: \"info\" secret: false %s\n", open, close)
	for _, r := range j.Refs {
		fmt.Fprintf(b, "  envs %s key: %q value: %q %s\n", open, r.Key, r.Value, close)
		if r.PortKey != "" {
			fmt.Fprintf(b, "  envs %s key: %q value: %q %s\n", open, r.PortKey, r.PortValue, close)
		}
	}
	fmt.Fprintf(b, "  volumes %s container_path: \"/data\" host_path: \"/data/%s\" %s\n", open, j.App.Name, close)
	if j.Extras {
		fmt.Fprintf(b, "  labels %s key: \"team\" value: \"t%d\" %s\n", open, len(j.App.Name)%5, close)
		fmt.Fprintf(b, "  instances: %d\n  tier: %s\n  limits %s open_files: 65536 %s\n", len(j.App.Jobs), []string{"CRITICAL", "BATCH"}[len(j.App.Name)%2], open, close)
	}
	fmt.Fprintf(b, "%s\n", close)
}

// Proto is the production schema of generated fleets: clocal's fields under other numbers,
// and fields clocal does not map (labels, instances, tier, limits, rollout).
const Proto = `// acme's deployment schema (generated fleets).
syntax = "proto3";

package acme.deploy;

import "acme/common.proto";

message JobFile {
  string cluster = 1;
  repeated Job job = 2;
}

message Job {
  enum Tier {
    TIER_UNSPECIFIED = 0;
    CRITICAL = 1;
    BATCH = 2;
  }
  string name = 1;
  string image = 2;
  string run_on_host = 3;
  repeated Env envs = 4;
  repeated Volume volumes = 5;
  repeated string command = 6;
  repeated string args = 7;
  double cpus = 8;
  int64 memory_mb = 9;
  map<string, string> labels = 20;
  uint32 instances = 21;
  Tier tier = 22;
  acme.common.Limits limits = 23;
  Rollout rollout = 24;
}

message Env {
  string key = 1;
  string value = 2;
  bool secret = 3;
}

message Volume {
  string container_path = 1;
  string host_path = 2;
  bool read_only = 3;
}

message Rollout {
  uint32 max_unavailable = 1;
  string strategy = 2;
}
`

// CommonProto is imported by Proto.
const CommonProto = `syntax = "proto3";

package acme.common;

message Limits {
  int64 open_files = 1;
  int64 processes = 2;
}
`
