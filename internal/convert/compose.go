package convert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// The compose model written by convert: plain structs, marshalled by yaml.v3 (maps are sorted,
// struct fields keep this order), so the output is deterministic.

type composeFile struct {
	Services map[string]*composeService `yaml:"services"`
	Networks map[string]composeNetwork  `yaml:"networks,omitempty"`
	Volumes  map[string]composeVolume   `yaml:"volumes,omitempty"`
	Configs  map[string]composeConfig   `yaml:"configs,omitempty"`
}

// composeConfig is a config given by content (compose copies it into the container).
type composeConfig struct {
	Content qstr `yaml:"content"`
}

// composeConfigRef is a service's use of a config.
type composeConfigRef struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

type composeNetwork struct {
	Labels map[string]string `yaml:"labels,omitempty"`
}

type composeVolume struct {
	Labels map[string]string `yaml:"labels,omitempty"`
}

type composeService struct {
	Image       string                      `yaml:"image"`
	PullPolicy  string                      `yaml:"pull_policy,omitempty"`
	Profiles    []string                    `yaml:"profiles,omitempty"`
	Entrypoint  []qstr                      `yaml:"entrypoint,omitempty"`
	Command     []qstr                      `yaml:"command,omitempty"`
	User        qstr                        `yaml:"user,omitempty"`
	WorkingDir  string                      `yaml:"working_dir,omitempty"`
	Environment map[string]qstr             `yaml:"environment,omitempty"`
	NetworkMode string                      `yaml:"network_mode,omitempty"`
	Networks    map[string]serviceNetwork   `yaml:"networks,omitempty"`
	Ports       []string                    `yaml:"ports,omitempty"`
	Volumes     []string                    `yaml:"volumes,omitempty"`
	Configs     []composeConfigRef          `yaml:"configs,omitempty"`
	DependsOn   map[string]composeDependsOn `yaml:"depends_on,omitempty"`
	Healthcheck *composeHealthcheck         `yaml:"healthcheck,omitempty"`
	Init        bool                        `yaml:"init,omitempty"`
	Privileged  bool                        `yaml:"privileged,omitempty"`
	CPUs        float64                     `yaml:"cpus,omitempty"`
	MemLimit    string                      `yaml:"mem_limit,omitempty"`
	Restart     string                      `yaml:"restart,omitempty"`
	Logging     *composeLogging             `yaml:"logging,omitempty"`
	Labels      map[string]string           `yaml:"labels,omitempty"`
}

type serviceNetwork struct {
	Aliases []string `yaml:"aliases,omitempty"`
}

type composeDependsOn struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval,omitempty"`
	Timeout     string   `yaml:"timeout,omitempty"`
	Retries     int      `yaml:"retries,omitempty"`
	StartPeriod string   `yaml:"start_period,omitempty"`
	// StartInterval: Docker 25+ only (see health.go).
	StartInterval string `yaml:"start_interval,omitempty"`
}

type composeLogging struct {
	Driver  string            `yaml:"driver"`
	Options map[string]string `yaml:"options,omitempty"`
}

// HealthcheckTest normalizes a service-file healthcheck test for compose: a single string is a
// shell command (CMD-SHELL); a list not starting with CMD, CMD-SHELL or NONE is exec'd (CMD).
func HealthcheckTest(test []string) []string {
	if len(test) == 0 {
		return nil
	}
	switch test[0] {
	case "CMD", "CMD-SHELL", "NONE":
		return append([]string(nil), test...)
	}
	if len(test) == 1 {
		return []string{"CMD-SHELL", test[0]}
	}
	return append([]string{"CMD"}, test...)
}

// PublishPort returns the compose short-syntax port of a listening port, bound to addr:
// "127.0.0.1:8866:8866", or "127.0.0.1::8866" (host port chosen by the daemon) when ephemeral.
// The short syntax is what docker-compose v1 accepts too (it has no long-syntax host_ip).
func PublishPort(port int, addr string, ephemeral bool) string {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		addr = "[" + addr + "]"
	}
	p := strconv.Itoa(port)
	if ephemeral {
		return addr + "::" + p
	}
	return addr + ":" + p + ":" + p
}

// PublishHostPort returns the compose short-syntax port publishing a listening port on a
// given host port: "127.0.0.1:32801:8080".
func PublishHostPort(host, port int, addr string) string {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.Itoa(host) + ":" + strconv.Itoa(port)
}

// hostPort picks the host port an owner publishes a production port on: the one its running
// container publishes (HostPorts), else the production port itself when free (not
// EphemeralPorts, not published by another owner, not taken here), else one FreePort picks;
// 0: the daemon picks at each container creation.
func (o Options) hostPort(owner string, port int, used map[int]string) int {
	if h := o.HostPorts[owner][port]; h > 0 && used[h] == owner {
		return h
	}
	if !o.EphemeralPorts && used[port] == "" && (o.PortTaken == nil || !o.PortTaken(port)) {
		return port
	}
	if o.FreePort == nil {
		return 0
	}
	for i := 0; i < 20; i++ {
		h, err := o.FreePort()
		if err != nil {
			return 0
		}
		if used[h] == "" {
			return h
		}
	}
	return 0
}

// qstr is a string that is double-quoted when a YAML 1.1 parser (docker-compose v1, PyYAML)
// would read it as a number: "1000:1000" is the sexagesimal 61000 there.
type qstr string

func (q qstr) MarshalYAML() (any, error) {
	if sexagesimal(string(q)) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: string(q)}, nil
	}
	return string(q), nil
}

func qstrs(s []string) []qstr {
	if s == nil {
		return nil
	}
	out := make([]qstr, len(s))
	for i, x := range s {
		out[i] = qstr(x)
	}
	return out
}

// sexagesimal reports whether s matches YAML 1.1's base-60 int or float:
// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?
func sexagesimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	start := i
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
		i++
	}
	if i == start || i >= len(s) || s[i] != ':' {
		return false
	}
	for i < len(s) && s[i] == ':' {
		i++
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		if n == 0 || n > 2 || (n == 2 && s[i-2] > '5') {
			return false
		}
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' {
		return false
	}
	for i++; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
			return false
		}
	}
	return true
}

func (o Options) logging() *composeLogging {
	return &composeLogging{Driver: "json-file", Options: map[string]string{
		"max-size": o.Log.MaxSize, "max-file": strconv.Itoa(o.Log.MaxFile)}}
}

// build renders units into a Plan: ws gives the namespace groups and what listens where.
func build(ws *workspace.Workspace, units []*unit, opts Options, errs []string) (*Plan, error) {
	logging := opts.logging() // shared, read-only
	p := &Plan{owner: make(map[string]string, len(units)), ports: make(map[string][]int, len(units)),
		prebuilt: map[string]bool{}, file: composeFile{
			Services: make(map[string]*composeService, len(units)),
			Volumes:  map[string]composeVolume{},
		}}
	byName := make(map[string]*unit, len(units))
	for _, u := range units {
		byName[u.name] = u
	}
	hasHealth := func(n string) bool { u := byName[n]; return u != nil && u.healthcheck != nil }
	taken := map[string]bool{}
	for n := range ws.Services {
		taken[n] = true
	}
	for _, g := range ws.Groups {
		taken[g.Name] = true
	}

	// Hosts: a host whose listeners live in one namespace is an alias of its owner; one whose
	// listeners live in several (in the whole workspace, so that aliases never move with the
	// selection) gets a router, present when one of its listeners is.
	hostAlias := map[string][]string{} // owner -> hosts it carries
	routerOf := map[string]*Router{}   // host -> router
	routerProfiles := map[string][]string{}
	for _, h := range ws.HostNames() {
		ls := ws.Listeners(h)
		var owners []string
		present := false
		for _, l := range ls {
			if l.Port > 0 && !contains(owners, ws.GroupOf(l.Service).Name) {
				owners = append(owners, ws.GroupOf(l.Service).Name)
			}
			if byName[l.Service] != nil {
				present = true
			}
		}
		if len(owners) < 2 {
			for _, l := range ls {
				if u := byName[l.Service]; u != nil {
					o := ws.GroupOf(l.Service).Name
					if len(owners) == 0 || owners[0] == o {
						hostAlias[o] = append(hostAlias[o], ws.HostAliases(h)...)
						break
					}
				}
			}
			continue
		}
		if !present {
			continue
		}
		r := &Router{Name: "router-" + ServiceName(h), Host: h, Ports: map[int]string{}}
		for taken[r.Name] {
			r.Name += "-router"
		}
		taken[r.Name] = true
		for _, l := range ls {
			if l.Port == 0 {
				continue
			}
			o := ws.GroupOf(l.Service).Name
			if prev, dup := r.Ports[l.Port]; dup && prev != o {
				p.Warnings = append(p.Warnings, fmt.Sprintf("host %s: port %d: jobs of %s and %s both listen on it in production; %s:%d reaches %s", h, l.Port, prev, o, h, l.Port, prev))
				continue
			}
			r.Ports[l.Port] = o
		}
		for _, l := range ls {
			if u := byName[l.Service]; u != nil {
				routerProfiles[h] = append(routerProfiles[h], u.profiles...)
			}
		}
		for _, a := range ws.HostAliases(h) {
			routerOf[a] = r
		}
		p.Routers = append(p.Routers, *r)
	}

	// host ports the project's running containers publish stay theirs: a running service
	// keeps its address whatever else the conversion adds or leaves out
	usedHost := map[int]string{} // published host port -> owner
	for _, wg := range ws.Groups {
		for _, m := range wg.Members {
			if u := byName[m]; u != nil {
				for _, port := range u.ports {
					if h := opts.HostPorts[wg.Name][port]; h > 0 && usedHost[h] == "" {
						usedHost[h] = wg.Name
					}
				}
			}
		}
	}
	for _, wg := range ws.Groups {
		var members []*unit
		for _, m := range wg.Members {
			if u := byName[m]; u != nil {
				members = append(members, u)
			}
		}
		if len(members) == 0 {
			continue
		}
		g := Group{Name: wg.Name, Pause: wg.Pause, Hosts: wg.Hosts}
		for _, u := range members {
			g.Members = append(g.Members, u.name)
		}
		p.Groups = append(p.Groups, g)

		// the owner of the namespace: aliases, ports, network
		var aliases, jobNames, profiles, listeners []string
		var ports []int
		seenPort := map[int]bool{}
		for _, u := range members {
			for _, j := range u.jobs {
				jobNames = append(jobNames, j.Name)
			}
			profiles = append(profiles, u.profiles...)
			for _, port := range u.ports {
				if !seenPort[port] {
					seenPort[port] = true
					ports = append(ports, port)
					listeners = append(listeners, fmt.Sprintf("%d=%s", port, u.name))
				}
			}
			if g.Pause {
				aliases = append(aliases, u.name)
			}
		}
		sort.Ints(ports)
		var published []string
		for _, port := range ports {
			host := opts.hostPort(g.Name, port, usedHost)
			if host != port && !opts.EphemeralPorts {
				p.Rehomed++
			}
			if host > 0 {
				usedHost[host] = g.Name
				published = append(published, PublishHostPort(host, port, opts.BindAddress))
			} else {
				published = append(published, PublishPort(port, opts.BindAddress, true))
			}
		}
		aliases = Aliases(g.Name, append(hostAlias[g.Name], aliases...), jobNames)
		net := map[string]serviceNetwork{NetworkName: {Aliases: aliases}}

		if g.Pause {
			sort.Strings(listeners)
			p.file.Services[g.Name] = &composeService{
				Image:      PauseImage,
				PullPolicy: opts.PullPolicy,
				Profiles:   uniqSorted(profiles),
				Networks:   net,
				Ports:      published,
				Init:       true,
				Restart:    "no",
				Logging:    logging,
				Labels: map[string]string{
					labels.Service: g.Name, labels.Role: labels.RolePause, labels.Members: joinComma(g.Members),
					labels.Host: joinComma(g.Hosts), labels.Ports: joinComma(listeners),
				},
			}
		}
		for _, u := range members {
			s, err := renderUnit(u, opts, p, logging)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			deps := func() map[string]composeDependsOn {
				if s.DependsOn == nil {
					s.DependsOn = map[string]composeDependsOn{}
				}
				return s.DependsOn
			}
			if g.Pause {
				s.NetworkMode = "service:" + g.Name
				deps()[g.Name] = composeDependsOn{Condition: "service_started"}
			} else {
				s.Networks = net
				s.Ports = published
			}
			for _, d := range u.dependsOn {
				cond := "service_started"
				if hasHealth(d) {
					cond = "service_healthy"
				}
				deps()[d] = composeDependsOn{Condition: cond}
			}
			// a host this service reaches through a router: start the router first
			for _, r := range routersUsed(u, routerOf) {
				deps()[r] = composeDependsOn{Condition: "service_started"}
			}
			p.file.Services[u.name] = s
			p.owner[u.name] = g.Name
			p.ports[u.name] = u.ports
			if u.prebuilt {
				p.prebuilt[u.name] = true
			}
		}
		if g.Pause {
			p.owner[g.Name] = g.Name
		}
	}
	for _, r := range p.Routers {
		args := make([]string, 0, len(r.Ports))
		for _, port := range sortedInts(r.Ports) {
			args = append(args, fmt.Sprintf("%d=%s:%d", port, r.Ports[port], port))
		}
		p.file.Services[r.Name] = &composeService{
			Image:      RouterImage,
			PullPolicy: opts.PullPolicy,
			Profiles:   uniqSorted(routerProfiles[r.Host]),
			Command:    qstrs(args),
			Networks:   map[string]serviceNetwork{NetworkName: {Aliases: Aliases(r.Name, ws.HostAliases(r.Host), nil)}},
			Init:       true,
			Restart:    "no",
			Logging:    logging,
			Labels:     map[string]string{labels.Service: r.Name, labels.Role: labels.RoleRouter, labels.Host: r.Host},
		}
		p.owner[r.Name] = r.Name
	}
	reduceDependsOn(p.file.Services)
	if len(p.file.Services) > 0 {
		p.file.Networks = map[string]composeNetwork{NetworkName: {}}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return p, nil
}

// reduceDependsOn drops each depends_on entry another one already implies: when a service
// depends on b and on c, and c depends (transitively) on b, with the last step into b at
// least as strong (service_healthy over service_started), compose starts b, then c, then
// the service anyway. compose-go's cycle check and compose's start order walk every path of
// the depends_on graph, so the fewest edges keep a 1,000-service project loading in well
// under a second. (clocal graph still shows every edge.)
func reduceDependsOn(svcs map[string]*composeService) {
	strength := func(cond string) int {
		if cond == "service_started" {
			return 1
		}
		return 2 // service_healthy, service_completed_successfully
	}
	memo := map[string]map[string]int{}
	var desc func(n string, depth int) map[string]int
	desc = func(n string, depth int) map[string]int {
		if d, ok := memo[n]; ok {
			return d
		}
		memo[n] = nil // a cycle (never emitted) or depth guard reads as nothing below
		out := map[string]int{}
		if s := svcs[n]; s != nil && depth < 10000 {
			for c, dep := range s.DependsOn {
				if st := strength(dep.Condition); st > out[c] {
					out[c] = st
				}
				for x, st := range desc(c, depth+1) {
					if st > out[x] {
						out[x] = st
					}
				}
			}
		}
		memo[n] = out
		return out
	}
	for _, name := range sortedKeys(svcs) {
		s := svcs[name]
		if len(s.DependsOn) < 2 {
			continue
		}
		var drop []string
		for d, dep := range s.DependsOn {
			for e := range s.DependsOn {
				if e != d && desc(e, 0)[d] >= strength(dep.Condition) {
					drop = append(drop, d)
					break
				}
			}
		}
		for _, d := range drop {
			delete(s.DependsOn, d)
		}
	}
}

// routersUsed returns the routers of the hosts the env values of a unit's jobs name, sorted.
func routersUsed(u *unit, routerOf map[string]*Router) []string {
	if len(routerOf) == 0 {
		return nil
	}
	var out []string
	for _, j := range u.jobs {
		for _, e := range j.Envs {
			for _, a := range workspace.Addresses(e.Value) {
				if r := routerOf[a.Host]; r != nil && !contains(out, r.Name) {
					out = append(out, r.Name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
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

func renderUnit(u *unit, opts Options, p *Plan, logging *composeLogging) (*composeService, error) {
	rep := u.jobs[0]
	// Production host paths are per host: a volume per (first production host, host path), so
	// two services on one production host mounting the same path share it, as there.
	volGroup := u.name
	if len(u.hosts) > 0 {
		volGroup = u.hosts[0]
	}
	s := &composeService{
		Image:      u.image,
		PullPolicy: opts.PullPolicy,
		Profiles:   u.profiles,
		Entrypoint: qstrs(rep.Command),
		Command:    qstrs(rep.Args),
		User:       qstr(rep.User),
		WorkingDir: rep.WorkingDir,
		Init:       true,
		Privileged: u.privileged,
		CPUs:       rep.CPUs,
		MemLimit:   MemLimit(rep.MemoryMB),
		Logging:    logging,
	}
	restart, ok := Restart(rep.Restart)
	if !ok {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: job %s: unknown restart policy %q, using \"no\"", rep.Pos, rep.Name, rep.Restart))
	}
	s.Restart = restart
	if len(u.env) > 0 {
		s.Environment = make(map[string]qstr, len(u.env))
		for k, v := range u.env {
			s.Environment[k] = qstr(EscapeEnv(v))
		}
	}
	names := make([]string, len(u.jobs))
	for i, j := range u.jobs {
		names[i] = j.Name
	}
	s.Labels = map[string]string{
		labels.Job:     joinComma(names),
		labels.Host:    joinComma(u.hosts),
		labels.Source:  joinComma(u.sources),
		labels.Service: u.local,
	}
	if u.healthcheck != nil {
		var readiness string
		if s.Healthcheck, readiness = opts.Health.render(u.healthcheck); readiness != "" {
			s.Labels[labels.Readiness] = readiness
		}
	}
	targets := map[string]string{}
	addVol := func(spec, target, what string) error {
		if prev, dup := targets[target]; dup {
			return fmt.Errorf("%s: service %s: %s and %s both mount %s", rep.Pos, u.name, prev, what, target)
		}
		targets[target] = what
		s.Volumes = append(s.Volumes, spec)
		return nil
	}
	var errs []string
	for _, v := range rep.Volumes {
		if err := checkContainerPath(v.ContainerPath); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", v.Pos, err))
			continue
		}
		target := cleanPath(v.ContainerPath)
		ro := ""
		if v.ReadOnly {
			ro = ":ro"
		}
		if src, ok := u.mounts[target]; ok {
			if err := addVol(src+":"+target+ro, target, "mounts."+target); err != nil {
				errs = append(errs, err.Error())
			}
			continue
		}
		if v.HostPath == "" {
			errs = append(errs, fmt.Sprintf("%s: volume %s has no host_path", v.Pos, target))
			continue
		}
		name := VolumeName(volGroup, v.HostPath)
		if err := addVol(name+":"+target+ro, target, "host_path "+v.HostPath); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if _, ok := p.file.Volumes[name]; !ok {
			p.file.Volumes[name] = composeVolume{Labels: map[string]string{labels.HostPath: v.HostPath, labels.Host: volGroup}}
		}
	}
	// service-file mounts that replace no job volume
	for _, target := range sortedKeys(u.mounts) {
		if _, done := targets[target]; done {
			continue
		}
		if err := addVol(u.mounts[target]+":"+target, target, "mounts."+target); err != nil {
			errs = append(errs, err.Error())
		}
	}
	configHash := sha256.New()
	for i, c := range u.configs {
		if err := checkContainerPath(c.Target); err != nil {
			errs = append(errs, fmt.Sprintf("service %s: configs[%d]: %v", u.name, i, err))
			continue
		}
		target, what := cleanPath(c.Target), fmt.Sprintf("configs[%d]", i)
		if u.contents == nil {
			if err := addVol(c.Source+":"+target+":ro", target, what); err != nil {
				errs = append(errs, err.Error())
			}
			continue
		}
		// A remote host: the content goes in, not a bind of this machine's file.
		if prev, dup := targets[target]; dup {
			errs = append(errs, fmt.Sprintf("%s: service %s: %s and %s both mount %s", rep.Pos, u.name, prev, what, target))
			continue
		}
		targets[target] = what
		name := fmt.Sprintf("%s-config-%d", u.name, i)
		s.Configs = append(s.Configs, composeConfigRef{Source: name, Target: target})
		if p.file.Configs == nil {
			p.file.Configs = map[string]composeConfig{}
		}
		p.file.Configs[name] = composeConfig{Content: qstr(EscapeEnv(u.contents[i]))}
		fmt.Fprintf(configHash, "%s\x00%d\x00%s\x00", target, len(u.contents[i]), u.contents[i])
	}
	if len(s.Configs) > 0 {
		s.Labels[labels.Configs] = hex.EncodeToString(configHash.Sum(nil))[:16]
	}
	if u.dockerSocket {
		if err := addVol("/var/run/docker.sock:/var/run/docker.sock", "/var/run/docker.sock", "docker_socket"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return s, nil
}

// cleanPath cleans a container path checked by checkContainerPath ("/data/" and "//data" are
// "/data").
func cleanPath(p string) string { return path.Clean(p) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// YAML renders the plan as compose YAML (2-space indent, sorted keys), with the emitter of
// emit.go.
func (p *Plan) YAML() ([]byte, error) {
	e := &emitter{}
	e.b.Grow(900 * (len(p.file.Services) + 1))
	e.file(&p.file)
	return e.b.Bytes(), nil
}

// yamlV3 renders the plan with yaml.v3, entry by entry: the reference TestEmitterMatchesYAMLv3
// compares YAML with.
func (p *Plan) yamlV3() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by clocal. Do not edit: edit the job files or services/*/service.yaml.\n")
	if err := writeSection(&b, "services", p.file.Services); err != nil {
		return nil, err
	}
	if err := writeSection(&b, "networks", p.file.Networks); err != nil {
		return nil, err
	}
	if err := writeSection(&b, "volumes", p.file.Volumes); err != nil {
		return nil, err
	}
	if err := writeSection(&b, "configs", p.file.Configs); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeSection[V any](b *bytes.Buffer, key string, m map[string]V) error {
	if len(m) == 0 {
		if key == "services" {
			b.WriteString("services: {}\n")
		}
		return nil
	}
	b.WriteString(key + ":\n")
	var tmp bytes.Buffer
	for _, k := range sortedKeys(m) {
		tmp.Reset()
		enc := yaml.NewEncoder(&tmp)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]V{k: m[k]}); err != nil {
			return fmt.Errorf("render compose YAML: %s %s: %w", key, k, err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("render compose YAML: %w", err)
		}
		data := tmp.Bytes()
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i+1], data[i+1:]
			} else {
				data = nil
			}
			if line[0] != '\n' {
				b.WriteString("  ")
			}
			b.Write(line)
		}
	}
	return nil
}
