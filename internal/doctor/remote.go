package doctor

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/sshmux"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Disk is the free space of a file system.
type Disk struct {
	Free        uint64 // bytes available to unprivileged users
	Inodes      uint64 // free inodes
	TotalInodes uint64
}

// remote reports whether stacks run on another machine.
func (e Env) remote() bool { return e.Run.URL != "" && !e.Run.Local() }

// on is " on HOST" for findings about a daemon on another machine, "" otherwise.
func (e Env) on() string {
	if e.remote() {
		return " on " + e.Run.String()
	}
	return ""
}

// sshDisk reads the free space under dir on an ssh:// host with df, over one ssh
// connection of its own.
func sshDisk(ctx context.Context, h engine.Host, dir string) (Disk, error) {
	if !h.IsSSH() {
		return Disk{}, fmt.Errorf("not known for a %s:// host (clocal reads it over ssh)", h.Scheme())
	}
	d, err := sshmux.ParseURL(h.URL)
	if err != nil {
		return Disk{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, h.PingTimeout())
	defer cancel()
	m, err := sshmux.Start(pctx, d, sshmux.SocketPath(fmt.Sprintf("doctor-%d-%s", os.Getpid(), h.URL)), sshmux.Options{})
	if err != nil {
		return Disk{}, err
	}
	defer func() { _ = m.Exit(context.Background()) }()
	blocks, err := m.Output(ctx, "df", "-Pk", dir)
	if err != nil {
		return Disk{}, err
	}
	inodes, err := m.Output(ctx, "df", "-Pi", dir)
	if err != nil {
		return Disk{}, err
	}
	return parseDF(string(blocks), string(inodes))
}

// parseDF reads `df -Pk` and `df -Pi` output (POSIX format: a header, then
// "FS total used available capacity mountpoint").
func parseDF(blocks, inodes string) (Disk, error) {
	field := func(out string, i int) (uint64, error) {
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Scan() // header
		if !sc.Scan() {
			return 0, fmt.Errorf("unexpected df output %q", out)
		}
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			return 0, fmt.Errorf("unexpected df output %q", out)
		}
		// a long file system name may leave the numbers on the next line: count from the end
		return strconv.ParseUint(f[len(f)-6+i], 10, 64)
	}
	avail, err := field(blocks, 3)
	if err != nil {
		return Disk{}, err
	}
	var d Disk
	d.Free = avail * 1024
	if total, err := field(inodes, 1); err == nil {
		d.TotalInodes = total
	}
	if free, err := field(inodes, 3); err == nil {
		d.Inodes = free
	}
	return d, nil
}

// checkBuildHost says which daemon build scripts that run docker use when the stack runs
// on another machine: this machine's (which must then answer), or the run host when
// build_host says so (where paths of this machine do not exist).
func checkBuildHost(ctx context.Context, e Env, sel *workspace.Selection) []Finding {
	if !e.remote() {
		return nil
	}
	var users []string
	for _, name := range sel.Services {
		svc := e.WS.Services[name]
		if svc == nil {
			continue
		}
		if spec, ok := stack.BuildSpec(e.WS, svc); ok && spec.Script != "" && scriptRunsDocker(spec.Script) {
			users = append(users, name)
		}
	}
	if len(users) == 0 {
		return []Finding{{Check: "build-host", Severity: OK, Message: fmt.Sprintf("images are built on %s; no build script of %s runs docker here", e.Run, strings.Join(sel.Services, ", "))}}
	}
	sort.Strings(users)
	who := fmt.Sprintf("the build scripts of %s run docker", strings.Join(users, ", "))
	if e.Build.URL == "" || e.Build == e.Run {
		return []Finding{{Check: "build-host", Severity: Warn,
			Message: fmt.Sprintf("%s against %s (build_host: run): `docker run -v \"$(pwd)/…\"` there mounts folders of this machine that do not exist on it", who, e.Run),
			Fix:     "remove build_host from clocal.local.yaml so build scripts use this machine's Docker daemon"}}
	}
	ping := e.PingBuild
	if ping == nil {
		ping = func(ctx context.Context) error {
			c, err := engine.NewHostClient(ctx, e.Build)
			if err == nil {
				_ = c.Close()
			}
			return err
		}
	}
	if err := ping(ctx); err != nil {
		return []Finding{{Check: "build-host", Severity: Blocker,
			Message: fmt.Sprintf("%s on this machine's Docker daemon %s, which does not answer: %v", who, e.Build, err),
			Fix:     fmt.Sprintf("start Docker on this machine, or set build_host: run in clocal.local.yaml to run them against %s", e.Run)}}
	}
	return []Finding{{Check: "build-host", Severity: OK, Message: fmt.Sprintf("%s on this machine's Docker daemon %s (it answers); the stack runs on %s", who, e.Build, e.Run)}}
}

// scriptRunsDocker reports whether a build script runs the docker CLI.
func scriptRunsDocker(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, t := range ScriptTools(string(data)) {
		if t == "docker" {
			return true
		}
	}
	return false
}

// checkRemotePorts: on an ssh:// host the ports are published there and forwarded to free
// ports here, so only a port that host has already (another container publishes it, a
// process there listens on it) conflicts.
func checkRemotePorts(ctx context.Context, e Env, sel *workspace.Selection) []Finding {
	plan, err := convert.FromWorkspace(e.WS, sel, convert.Options{Remote: e.Run.URL})
	if err != nil {
		return []Finding{{Check: "config", Severity: Blocker, Message: err.Error(), Fix: "clocal validate"}}
	}
	// another project's container publishes it, or a process of that machine listens on it
	taken, _, _ := stack.RunHostPorts(ctx, e.Docker, "", convert.DefaultBindAddress)
	var out []Finding
	seen := map[int]bool{}
	for _, svc := range sel.Services {
		for _, port := range plan.Ports(svc) {
			owner, busy := taken[port]
			if seen[port] || !busy || (e.PortOwner != nil && e.PortOwner(port) != "") {
				continue
			}
			seen[port] = true
			// up does not fail on it: the port is published on a free one the daemon picks
			out = append(out, Finding{Check: "ports", Severity: Warn,
				Message: fmt.Sprintf("port %d (%s) is already taken on %s by %s: clocal up publishes %s on a free port there instead (clocal port %s shows its address here)", port, svc, e.Run, owner, svc, svc),
				Fix:     "to keep the production port, stop that container or process there; or run clocal up --isolated for daemon-chosen ports"})
		}
	}
	if len(out) == 0 {
		msg := fmt.Sprintf("every port of %s is free on %s", strings.Join(sel.Services, ", "), e.Run)
		if e.Run.IsSSH() {
			msg += "; each is forwarded to this machine's loopback (another free port when it is busy here)"
		} else {
			msg += fmt.Sprintf("; they are published on %s's 127.0.0.1 (use an ssh:// host, or --bind 0.0.0.0 on a trusted network, to reach them from here)", e.Run.Address())
		}
		out = append(out, Finding{Check: "ports", Severity: OK, Message: msg})
	}
	return out
}
