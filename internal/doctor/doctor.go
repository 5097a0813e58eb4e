// Package doctor checks that a machine can run a workspace's stacks, and says how to fix
// each problem it finds.
package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/watch"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Severity of a finding.
type Severity string

const (
	OK      Severity = "ok"
	Warn    Severity = "warn"
	Blocker Severity = "fail" // `up` would fail
)

// Finding is one check's result.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
}

// Env is what the checks look at; tests replace parts of it.
type Env struct {
	WS      *workspace.Workspace
	Targets []string
	// Project is the stack's project name (its pins decide which images it runs).
	Project string
	// Remote asks registries whether they have an image (default: with the user's Docker
	// credentials).
	Remote    *registry.Remote
	Docker    client.APIClient // nil when unreachable
	DockerErr error
	// LookPath finds a build tool (exec.LookPath by default).
	LookPath func(string) (string, error)
	// InotifyLimits returns the inotify limits (watch.InotifyLimits by default).
	InotifyLimits func() (int, int, error)
	// OS is the platform clocal runs on (runtime.GOOS by default): the file watcher's
	// limits differ (inotify on Linux, an open file per watched file on macOS).
	OS string
	// OpenFilesLimit is this process's open files limit (macOS watches; default read
	// from the system).
	OpenFilesLimit func() int
	// PortOwner says whether a busy port is published by one of the workspace's own stacks
	// (then it is not a conflict).
	PortOwner func(port int) string
	// MinFreeBytes below which disk space blocks up (default 1 GiB); warn below 5×.
	MinFreeBytes uint64
	// Run is the daemon stacks run on, Build the one build.sh's docker commands talk to
	// (zero: this machine's daemon for both).
	Run, Build engine.Host
	// RemoteDisk reads the free space under a folder of Run when it is another machine
	// (default: df over ssh for ssh:// hosts).
	RemoteDisk func(ctx context.Context, dir string) (Disk, error)
	// PingBuild checks that Build's daemon answers (default: connect and ping).
	PingBuild func(ctx context.Context) error
	// BuildDocker is Build's daemon when it is not Run's (nil: Run alone is checked for
	// images; the CLI connects it when Run is another machine).
	BuildDocker client.APIClient
	// RouterExecutable is this clocal executable when it serves `clocal __router` (one
	// source of the router image); GoTool finds the go command (nil: PATH, GOROOT).
	RouterExecutable string
	GoTool           func() (string, error)
}

// Run runs every check.
func Run(ctx context.Context, e Env) []Finding {
	if e.LookPath == nil {
		e.LookPath = exec.LookPath
	}
	if e.InotifyLimits == nil {
		e.InotifyLimits = watch.InotifyLimits
	}
	if e.OS == "" {
		e.OS = runtime.GOOS
	}
	if e.OpenFilesLimit == nil {
		e.OpenFilesLimit = watch.OpenFilesLimit
	}
	if e.MinFreeBytes == 0 {
		e.MinFreeBytes = 1 << 30
	}
	if e.remote() && e.RemoteDisk == nil {
		e.RemoteDisk = func(ctx context.Context, dir string) (Disk, error) { return sshDisk(ctx, e.Run, dir) }
	}
	out := checkDocker(ctx, e)
	if out[0].Severity == OK { // the daemon answered
		f := checkBuilder(ctx, e)
		f.Message += e.on()
		out = append(out, f)
	}
	var sel *workspace.Selection
	if e.WS != nil {
		s, err := e.WS.Resolve(e.Targets)
		if err != nil {
			out = append(out, Finding{Check: "targets", Severity: Blocker, Message: err.Error(), Fix: "run clocal profiles to see the targets"})
		} else {
			sel = s
		}
	}
	out = append(out, checkWatchLimits(e, sel)...)
	if sel != nil {
		out = append(out, checkBuildHost(ctx, e, sel)...)
		if e.remote() {
			out = append(out, checkRemotePorts(ctx, e, sel)...)
		} else {
			out = append(out, checkPorts(e, sel)...)
		}
		out = append(out, checkSources(e, sel)...)
		out = append(out, checkBuildTools(e, sel)...)
		out = append(out, checkImages(ctx, e, sel)...)
		out = append(out, checkRouter(ctx, e, sel)...)
	}
	return out
}

// checkBuilder says which builder images will be built with: the daemon's BuildKit, or the
// classic builder (several times slower per edit) when the daemon has none or
// CLOCAL_BUILDER says so.
func checkBuilder(ctx context.Context, e Env) Finding {
	backend, err := build.BackendFromEnv()
	if err != nil {
		return Finding{Check: "builder", Severity: Blocker, Message: err.Error(), Fix: "unset CLOCAL_BUILDER or set it to classic, buildkit or auto"}
	}
	if backend == build.BackendClassic {
		return Finding{Check: "builder", Severity: OK, Message: "images are built with the classic builder (CLOCAL_BUILDER=classic)"}
	}
	err = (&build.Builder{Docker: e.Docker}).BuildKitAvailable(ctx)
	switch {
	case err == nil:
		return Finding{Check: "builder", Severity: OK, Message: "images are built with the Docker daemon's BuildKit"}
	case backend == build.BackendBuildKit:
		return Finding{Check: "builder", Severity: Blocker, Message: "CLOCAL_BUILDER=buildkit: " + err.Error(), Fix: "unset CLOCAL_BUILDER, or use a Docker Engine with BuildKit (18.09 or later)"}
	default:
		return Finding{Check: "builder", Severity: Warn, Message: "no BuildKit in the Docker daemon: images are built with the classic builder, several times slower per edit (" + err.Error() + ")", Fix: "use a Docker Engine with BuildKit (18.09 or later)"}
	}
}

// Blocking reports whether any finding blocks up.
func Blocking(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Blocker {
			return true
		}
	}
	return false
}

func checkDocker(ctx context.Context, e Env) []Finding {
	if e.Docker == nil {
		msg := "Docker daemon unreachable"
		if e.DockerErr != nil {
			msg = e.DockerErr.Error()
		}
		return []Finding{{Check: "docker", Severity: Blocker, Message: msg, Fix: "start it (sudo systemctl start docker) or set DOCKER_HOST / docker context"}}
	}
	v, err := e.Docker.ServerVersion(ctx)
	if err != nil {
		return []Finding{{Check: "docker", Severity: Blocker, Message: "Docker daemon unreachable: " + err.Error(), Fix: "start it (sudo systemctl start docker) or set DOCKER_HOST"}}
	}
	out := []Finding{{Check: "docker", Severity: OK, Message: fmt.Sprintf("Docker %s (API %s) reachable%s", v.Version, v.APIVersion, e.on())}}
	info, err := e.Docker.Info(ctx)
	if err != nil {
		return out
	}
	if info.Driver != "" {
		f := storageFinding(info)
		f.Message = strings.Replace(f.Message, "storage driver "+info.Driver, "storage driver "+info.Driver+e.on(), 1)
		out = append(out, f)
	}
	if info.DockerRootDir == "" {
		return out
	}
	if vm := daemonVM(info); vm != "" && !e.remote() {
		// The daemon's disk and memory are the VM's, not this machine's: statfs of its
		// data root here would read another file system (or none).
		f := Finding{Check: "disk", Severity: OK, Message: fmt.Sprintf("the daemon runs in %s's VM (%s of memory, %d CPUs): its disk is the VM's disk image", vm, human(uint64(info.MemTotal)), info.NCPU)}
		if info.MemTotal > 0 && info.MemTotal < 4<<30 {
			f.Severity = Warn
			f.Message = fmt.Sprintf("the daemon runs in %s's VM with %s of memory: a stack of several services and its builds need more", vm, human(uint64(info.MemTotal)))
			f.Fix = vm + ": Settings > Resources > Memory: 4 GB or more (and Disk image size: room for images); clocal gc frees image space"
		}
		return append(out, f)
	}
	var d Disk
	if e.remote() {
		if d, err = e.RemoteDisk(ctx, info.DockerRootDir); err != nil {
			return append(out, Finding{Check: "disk", Severity: Warn, Message: fmt.Sprintf("cannot read free space under %s%s: %v", info.DockerRootDir, e.on(), err)})
		}
	} else {
		if d, err = localDisk(info.DockerRootDir); err != nil {
			return append(out, Finding{Check: "disk", Severity: Warn, Message: fmt.Sprintf("cannot read free space under %s (remote daemon?): %v", info.DockerRootDir, err)})
		}
	}
	free, inodes := d.Free, d.Inodes
	f := Finding{Check: "disk", Severity: OK, Message: fmt.Sprintf("%s free under %s%s (%d inodes free)", human(free), info.DockerRootDir, e.on(), inodes)}
	switch {
	case free < e.MinFreeBytes:
		f.Severity, f.Fix = Blocker, "free space: clocal gc; docker system prune"
	case free < 5*e.MinFreeBytes:
		f.Severity, f.Fix = Warn, "free space soon: clocal gc; docker system prune"
	}
	if d.TotalInodes > 0 && inodes < d.TotalInodes/20 {
		f.Severity, f.Fix = Warn, "few inodes left (the leftover-files problem): clocal gc; docker system prune"
	}
	return append(out, f)
}

// storageFinding says whether the daemon's storage driver diffs layers naively. dockerd's
// naive differ (fuse-overlayfs, vfs, overlay2 without native diff) ends every diff of a
// layer that has a parent by sleeping until the next whole second, so each image build's
// export waits 0–1 s for the wall clock (see scripts/bench/devloop/README.md, "Phase").
// Only a warning: the driver is the machine's choice (rootless and nested daemons often
// have no other), and builds still work.
func storageFinding(info system.Info) Finding {
	naive := info.Driver == "fuse-overlayfs" || info.Driver == "vfs"
	for _, kv := range info.DriverStatus {
		if kv[0] == "Native Overlay Diff" && kv[1] == "false" {
			naive = true
		}
	}
	if !naive {
		return Finding{Check: "storage", Severity: OK, Message: "storage driver " + info.Driver}
	}
	return Finding{Check: "storage", Severity: Warn,
		Message: "storage driver " + info.Driver + " diffs layers naively: every image build waits up to 1 s for the next whole second while the daemon exports layers",
		Fix:     "faster rebuilds with overlay2 and native diff (docker info: Native Overlay Diff: true), where the machine allows it"}
}

func human(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d B", b)
}

// checkWatchLimits checks that `clocal watch` can watch the selection's sources: on Linux
// against fs.inotify.max_user_watches (a watch per folder), on macOS against the open
// files limit (kqueue holds a file open per watched file and folder), on Windows there is
// no such limit.
func checkWatchLimits(e Env, sel *workspace.Selection) []Finding {
	switch e.OS {
	case "linux":
		return checkInotify(e, sel)
	case "darwin":
		files, dirs := sourceEntries(e, sel)
		limit := e.OpenFilesLimit()
		need := files + dirs
		f := Finding{Check: "watch", Severity: OK, Message: fmt.Sprintf("open files limit %d (watch needs about %d: macOS watches every file)", limit, need)}
		if limit > 0 && need > limit*8/10 {
			f.Severity = Warn
			f.Message = fmt.Sprintf("open files limit %d is too low to watch %d files and folders: macOS watches every file with an open file, clocal watch would hit it", limit, need)
			f.Fix = watch.RaiseOpenFiles(max(watch.SuggestOpenFiles(limit), need*2)) + " (or watch fewer files: watch.ignore in service.yaml)"
		}
		return []Finding{f}
	}
	return []Finding{{Check: "watch", Severity: OK, Message: "file watching has no per-user limit on " + e.OS}}
}

// sourceEntries counts the files and folders of the selection's sources a watch covers
// (.git and node_modules left out, as the watcher does).
func sourceEntries(e Env, sel *workspace.Selection) (files, dirs int) {
	if sel == nil {
		return 0, 0
	}
	for _, name := range sel.Services {
		if svc := e.WS.Services[name]; svc != nil && svc.Source != "" {
			_ = filepath.WalkDir(svc.Source, func(_ string, d fs.DirEntry, err error) error {
				switch {
				case err != nil:
				case d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules"):
					return filepath.SkipDir
				case d.IsDir():
					dirs++
				default:
					files++
				}
				return nil
			})
		}
	}
	return files, dirs
}

func checkInotify(e Env, sel *workspace.Selection) []Finding {
	watches, _, err := e.InotifyLimits()
	if err != nil {
		return []Finding{{Check: "inotify", Severity: Warn, Message: "cannot read inotify limits: " + err.Error()}}
	}
	_, dirs := sourceEntries(e, sel)
	f := Finding{Check: "inotify", Severity: OK, Message: fmt.Sprintf("fs.inotify.max_user_watches=%d (watch needs about %d)", watches, dirs)}
	if dirs > watches*8/10 {
		f.Severity = Warn
		f.Message = fmt.Sprintf("fs.inotify.max_user_watches=%d is too low for %d source folders: clocal watch would hit it", watches, dirs)
		f.Fix = fmt.Sprintf("sudo sysctl fs.inotify.max_user_watches=%d", max(524288, dirs*2))
	}
	return []Finding{f}
}

func checkPorts(e Env, sel *workspace.Selection) []Finding {
	plan, err := convert.FromWorkspace(e.WS, sel, convert.Options{})
	if err != nil {
		return []Finding{{Check: "config", Severity: Blocker, Message: err.Error(), Fix: "clocal validate"}}
	}
	var out []Finding
	busy := 0
	seen := map[int]bool{}
	for _, svc := range sel.Services {
		for _, port := range plan.Ports(svc) {
			if seen[port] {
				continue // another service listens on it too: it is published elsewhere anyway
			}
			seen[port] = true
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				_ = l.Close()
				continue
			}
			if e.PortOwner != nil {
				if owner := e.PortOwner(port); owner != "" {
					continue // our own running stack publishes it
				}
			}
			// up does not fail on it: the port is published on a free one the daemon picks
			busy++
			out = append(out, Finding{Check: "ports", Severity: Warn,
				Message: fmt.Sprintf("port %d (%s) is already in use on 127.0.0.1: clocal up publishes %s on a free port instead (clocal port %s shows it)", port, svc, svc, svc),
				Fix:     fmt.Sprintf("to keep the production port, stop what listens on it (ss -ltnp 'sport = :%d'); or run clocal up --isolated for daemon-chosen ports", port)})
		}
	}
	if busy == 0 {
		out = append(out, Finding{Check: "ports", Severity: OK, Message: fmt.Sprintf("every port of %s is free", strings.Join(sel.Services, ", "))})
	}
	return out
}

func checkSources(e Env, sel *workspace.Selection) []Finding {
	var out []Finding
	for _, name := range sel.Services {
		svc := e.WS.Services[name]
		if svc == nil || svc.Source == "" {
			continue
		}
		if st, err := os.Stat(svc.Source); err == nil && st.IsDir() {
			continue
		}
		rel, _ := filepath.Rel(e.WS.Root, svc.Source)
		fix := fmt.Sprintf("create it, or point sources.%s in %s at your checkout", name, workspace.LocalFile)
		if tracked(e.WS.Root, rel) {
			fix = fmt.Sprintf("git -C %s checkout HEAD -- %s", e.WS.Root, filepath.ToSlash(rel))
		} else if svc.File.Repo != "" {
			fix = fmt.Sprintf("git clone %s %s", svc.File.Repo, svc.Source)
		}
		out = append(out, Finding{Check: "sources", Severity: Blocker, Message: fmt.Sprintf("source folder of %s is missing: %s", name, svc.Source), Fix: fix})
	}
	if len(out) == 0 {
		out = append(out, Finding{Check: "sources", Severity: OK, Message: "every source folder is present"})
	}
	return out
}

func tracked(root, rel string) bool {
	if strings.HasPrefix(rel, "..") {
		return false
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "--", filepath.ToSlash(rel)).Output()
	return err == nil && len(strings.TrimSpace(string(out))) > 0
}

// shellWords are builtins and keywords that are not tools to look up.
var shellWords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true, "while": true, "until": true,
	"do": true, "done": true, "case": true, "esac": true, "in": true, "function": true, "return": true, "exit": true,
	"cd": true, "echo": true, "printf": true, "export": true, "set": true, "unset": true, "local": true, "read": true,
	"shift": true, "test": true, "[": true, "[[": true, "]]": true, "true": true, "false": true, ".": true, "source": true,
	"eval": true, "exec": true, "trap": true, "wait": true, "pwd": true, "umask": true, "command": true, "type": true,
	"{": true, "}": true, "!": true, "time": true, "declare": true, "readonly": true, "let": true, "alias": true,
}

// separators end one simple command and start the next (or a command substitution).
var separators = regexp.MustCompile("&&|\\|\\||;|\\||\\$\\(|`|\\(|\\)")
var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
var toolName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*$`)

// prefixWords are followed by the command they run.
var prefixWords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "while": true, "until": true, "do": true,
	"!": true, "time": true, "{": true, "}": true, "exec": true, "nohup": true,
}

// ScriptTools returns the external commands a build script runs, best effort: the first word
// of each simple command (after VAR=value assignments and keywords such as if/then/do),
// minus shell builtins and ./relative or $variable commands.
func ScriptTools(script string) []string {
	set := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, seg := range separators.Split(line, -1) {
			words := strings.Fields(seg)
			for len(words) > 0 && (assignment.MatchString(words[0]) || prefixWords[words[0]]) {
				words = words[1:]
			}
			if len(words) == 0 {
				continue
			}
			w := words[0]
			if shellWords[w] || !toolName.MatchString(w) {
				continue
			}
			set[w] = true
		}
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// buildScripts calls f with the build script of each selected service that has one.
func buildScripts(e Env, sel *workspace.Selection, f func(name string, spec build.Spec, script string)) {
	for _, name := range sel.Services {
		svc := e.WS.Services[name]
		if svc == nil {
			continue
		}
		spec, ok := stack.BuildSpec(e.WS, svc)
		if !ok || spec.Script == "" {
			continue
		}
		data, err := os.ReadFile(spec.Script)
		if err != nil {
			continue
		}
		f(name, spec, string(data))
	}
}

func checkBuildTools(e Env, sel *workspace.Selection) []Finding {
	var out []Finding
	missing := 0
	buildScripts(e, sel, func(name string, _ build.Spec, script string) {
		for _, tool := range ScriptTools(script) {
			if strings.Contains(tool, "/") {
				continue
			}
			if _, err := e.LookPath(tool); err != nil {
				missing++
				out = append(out, Finding{Check: "build-tools", Severity: Blocker,
					Message: fmt.Sprintf("%s's build.sh runs %q, which is not on PATH", name, tool),
					Fix:     installHint(tool)})
			}
		}
	})
	if missing == 0 {
		out = append(out, Finding{Check: "build-tools", Severity: OK, Message: "every tool the build scripts run is on PATH"})
	}
	return out
}

func installHint(tool string) string {
	switch tool {
	case "go":
		return "install Go (https://go.dev/doc/install) or: sudo apt-get install golang-go; then make sure it is on PATH"
	case "docker":
		return "sudo apt-get install docker.io (or Docker Desktop)"
	case "git":
		return "sudo apt-get install git"
	}
	return fmt.Sprintf("install %s (e.g. sudo apt-get install %s) and make sure it is on PATH", tool, tool)
}

// ErrBlocked is returned by callers when a blocking finding exists.
var ErrBlocked = errors.New("doctor found problems that block clocal up")

// daemonVM names the desktop VM the daemon runs in (Docker Desktop, Colima, Rancher
// Desktop, OrbStack, Podman machine), "" for a daemon on this machine's kernel.
func daemonVM(info system.Info) string {
	osName := strings.ToLower(info.OperatingSystem + " " + info.Name + " " + info.KernelVersion)
	for _, vm := range []struct{ key, name string }{
		{"docker desktop", "Docker Desktop"}, {"colima", "Colima"}, {"rancher-desktop", "Rancher Desktop"},
		{"orbstack", "OrbStack"}, {"podman-machine", "Podman machine"}, {"linuxkit", "Docker Desktop"},
	} {
		if strings.Contains(osName, vm.key) {
			return vm.name
		}
	}
	return ""
}
