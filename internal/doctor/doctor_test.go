package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/dockerfake"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func find(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func one(t *testing.T, fs []Finding, check string) Finding {
	t.Helper()
	got := find(fs, check)
	if len(got) != 1 {
		t.Fatalf("%d %q findings, want 1: %+v", len(got), check, fs)
	}
	return got[0]
}

func load(t *testing.T, root string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// noFaults are hooks that find nothing wrong, so a test sees only the fault it injects.
func noFaults(e Env) Env {
	if e.LookPath == nil {
		e.LookPath = func(s string) (string, error) { return "/usr/bin/" + s, nil }
	}
	if e.InotifyLimits == nil {
		e.InotifyLimits = func() (int, int, error) { return 1 << 20, 1024, nil }
	}
	return e
}

func TestDockerUnreachable(t *testing.T) {
	// A real client pointed at a socket that does not exist: the check fails (fast: the
	// dial error is immediate) and says how to fix it.
	docker, err := client.NewClientWithOpts(client.WithHost("unix:///nonexistent/docker.sock"), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard only
	defer cancel()
	fs := Run(ctx, noFaults(Env{Docker: docker}))
	f := one(t, fs, "docker")
	if f.Severity != Blocker || !strings.Contains(f.Message, "unreachable") || !strings.Contains(f.Fix, "DOCKER_HOST") {
		t.Errorf("docker finding = %+v", f)
	}
	if !Blocking(fs) {
		t.Error("an unreachable daemon does not block up")
	}
	// What the CLI passes when it could not even connect.
	fs = Run(ctx, noFaults(Env{DockerErr: errors.New("Cannot connect to the Docker daemon at unix:///x")}))
	if f := one(t, fs, "docker"); f.Severity != Blocker || !strings.Contains(f.Message, "Cannot connect") || f.Fix == "" {
		t.Errorf("docker finding = %+v", f)
	}
	if len(find(fs, "disk")) != 0 {
		t.Errorf("disk checked without a daemon: %+v", fs)
	}
}

func TestDockerVersionAndDisk(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx := context.Background()
	info, err := docker.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fs := Run(ctx, noFaults(Env{Docker: docker}))
	v, _ := docker.ServerVersion(ctx)
	if f := one(t, fs, "docker"); f.Severity != OK || !strings.Contains(f.Message, v.Version) {
		t.Errorf("docker finding = %+v, want OK naming version %s", f, v.Version)
	}
	d := one(t, fs, "disk")
	if !strings.Contains(d.Message, info.DockerRootDir) || !strings.Contains(d.Message, "free") {
		t.Errorf("disk finding = %+v, want the free space under %s", d, info.DockerRootDir)
	}
	// Less free space than required: blocks, with the fix.
	fs = Run(ctx, noFaults(Env{Docker: docker, MinFreeBytes: 1 << 62}))
	if d := one(t, fs, "disk"); d.Severity != Blocker || !strings.Contains(d.Fix, "clocal gc") {
		t.Errorf("disk finding with a huge minimum = %+v", d)
	}
}

func TestInotify(t *testing.T) {
	ws := load(t, testutil.RepoRoot())
	cases := []struct {
		name    string
		limits  func() (int, int, error)
		want    Severity
		message string
		fix     string
	}{
		{"plenty", func() (int, int, error) { return 524288, 128, nil }, OK, "max_user_watches=524288", ""},
		{"too low for the sources", func() (int, int, error) { return 2, 128, nil }, Warn, "too low", "sudo sysctl fs.inotify.max_user_watches=524288"},
		{"unreadable", func() (int, int, error) {
			return 0, 0, fmt.Errorf("open /proc/sys/fs/inotify/max_user_watches: permission denied")
		}, Warn, "cannot read", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := Run(context.Background(), noFaults(Env{WS: ws, Targets: []string{"repo-manager"}, DockerErr: errors.New("x"), InotifyLimits: c.limits}))
			f := one(t, fs, "inotify")
			if f.Severity != c.want || !strings.Contains(f.Message, c.message) || !strings.Contains(f.Fix, c.fix) {
				t.Errorf("inotify finding = %+v", f)
			}
		})
	}
}

// setPort makes the copy's kvstore listen on port (service.yaml ports: replaces the rule).
func setPort(t *testing.T, root string, port int) {
	t.Helper()
	p := filepath.Join(root, "services", "kvstore", "service.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, []byte(fmt.Sprintf("ports: [%d]\n", port))...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPortTaken(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	setPort(t, root, port)
	ws := load(t, root)
	env := noFaults(Env{WS: ws, Targets: []string{"kvstore"}, DockerErr: errors.New("x")})

	fs := Run(context.Background(), env)
	f := one(t, fs, "ports")
	// up publishes it on a free port: a warning, not a blocker
	if f.Severity != Warn || !strings.Contains(f.Message, fmt.Sprintf("port %d (kvstore) is already in use", port)) ||
		!strings.Contains(f.Fix, fmt.Sprintf("ss -ltnp 'sport = :%d'", port)) || !strings.Contains(f.Fix, "--isolated") {
		t.Errorf("ports finding = %+v", f)
	}
	// Published by the workspace's own running stack: not a conflict.
	env.PortOwner = func(p int) string {
		if p == port {
			return "kvstore"
		}
		return ""
	}
	if f := one(t, Run(context.Background(), env), "ports"); f.Severity != OK {
		t.Errorf("own stack's port reported: %+v", f)
	}
	// Freed: ok.
	env.PortOwner = nil
	l.Close()
	if f := one(t, Run(context.Background(), env), "ports"); f.Severity != OK {
		t.Errorf("after closing the listener: %+v", f)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestSourceMissing(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	src := filepath.Join(root, "apps", "markdown-renderer")
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	env := noFaults(Env{WS: load(t, root), Targets: []string{"repo-manager"}, DockerErr: errors.New("x")})
	fs := Run(context.Background(), env)
	f := one(t, fs, "sources")
	if f.Severity != Blocker || !strings.Contains(f.Message, "source folder of markdown-renderer is missing: "+src) ||
		!strings.Contains(f.Fix, "sources.markdown-renderer in clocal.local.yaml") {
		t.Errorf("sources finding (not a git checkout, no repo:) = %+v", f)
	}

	// With repo: in service.yaml, the fix is the clone command.
	sy := filepath.Join(root, "services", "markdown-renderer", "service.yaml")
	data, _ := os.ReadFile(sy)
	if err := os.WriteFile(sy, append(data, []byte("repo: git@example.com:coding/markdown-renderer.git\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	env.WS = load(t, root)
	if f := one(t, Run(context.Background(), env), "sources"); f.Fix != "git clone git@example.com:coding/markdown-renderer.git "+src {
		t.Errorf("fix with repo: = %q", f.Fix)
	}
}

func TestSourceMissingFromGitCheckoutFixRestoresIt(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root := testutil.CopyWorkspace(t)
	git(t, root, "init", "-q")
	git(t, root, "add", "-A")
	git(t, root, "commit", "-q", "-m", "workspace")
	if err := os.RemoveAll(filepath.Join(root, "apps", "kvstore")); err != nil {
		t.Fatal(err)
	}
	env := noFaults(Env{WS: load(t, root), Targets: []string{"kvstore"}, DockerErr: errors.New("x")})
	f := one(t, Run(context.Background(), env), "sources")
	want := fmt.Sprintf("git -C %s checkout HEAD -- apps/kvstore", root)
	if f.Severity != Blocker || f.Fix != want {
		t.Fatalf("sources finding = %+v, want fix %q", f, want)
	}
	// The fix is a command that works.
	if out, err := exec.Command("sh", "-c", f.Fix).CombinedOutput(); err != nil {
		t.Fatalf("running the fix %q: %v\n%s", f.Fix, err, out)
	}
	if f := one(t, Run(context.Background(), env), "sources"); f.Severity != OK {
		t.Errorf("after the fix: %+v", f)
	}
}

func TestBuildToolMissing(t *testing.T) {
	ws := load(t, testutil.RepoRoot())
	env := noFaults(Env{WS: ws, Targets: []string{"repo-manager"}, DockerErr: errors.New("x")})
	env.LookPath = func(tool string) (string, error) {
		if tool == "go" {
			return "", exec.ErrNotFound
		}
		return "/usr/bin/" + tool, nil
	}
	fs := find(Run(context.Background(), env), "build-tools")
	if len(fs) != 3 {
		t.Fatalf("build-tools findings = %+v, want one per service of repo-manager's closure", fs)
	}
	for _, f := range fs {
		if f.Severity != Blocker || !strings.Contains(f.Message, `runs "go", which is not on PATH`) || !strings.Contains(f.Fix, "install Go") {
			t.Errorf("build-tools finding = %+v", f)
		}
	}
	env.LookPath = func(tool string) (string, error) { return "/usr/bin/" + tool, nil }
	if f := one(t, Run(context.Background(), env), "build-tools"); f.Severity != OK {
		t.Errorf("all tools present: %+v", f)
	}
}

func TestScriptTools(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "services", "repo-manager", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ScriptTools(string(data)), ",")
	if got != "go,mkdir" {
		t.Errorf("tools of repo-manager's build.sh = %s, want go,mkdir", got)
	}
	cases := map[string]string{
		"set -eu\ncd x && make -j4\n":                      "make",
		"VERSION=1 CGO_ENABLED=0 go build .\n":             "go",
		"# npm install\nif command -v yarn; then yarn; fi": "yarn",
		"docker run -it --rm img sh -c 'x' | tee log\n":    "docker,tee",
		"out=$(git rev-parse HEAD)\n":                      "git",
		"./gradlew build\n":                                "",
	}
	for script, want := range cases {
		if got := strings.Join(ScriptTools(script), ","); got != want {
			t.Errorf("ScriptTools(%q) = %q, want %q", script, got, want)
		}
	}
}

func TestUnknownTargetBlocks(t *testing.T) {
	ws := load(t, testutil.RepoRoot())
	fs := Run(context.Background(), noFaults(Env{WS: ws, Targets: []string{"no-such-profile"}, DockerErr: errors.New("x")}))
	if f := one(t, fs, "targets"); f.Severity != Blocker || !strings.Contains(f.Fix, "clocal profiles") {
		t.Errorf("targets finding = %+v", f)
	}
}

func TestBuilder(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, env string
		docker    client.APIClient
		sev       Severity
		msg       string
	}{
		{"buildkit", "", docker, OK, "the Docker daemon's BuildKit"},
		{"forced classic", "classic", docker, OK, "classic builder (CLOCAL_BUILDER=classic)"},
		{"no buildkit", "", testutil.NoBuildKit{APIClient: docker}, Warn, "no BuildKit in the Docker daemon: images are built with the classic builder"},
		{"buildkit required, none", "buildkit", testutil.NoBuildKit{APIClient: docker}, Blocker, "CLOCAL_BUILDER=buildkit: the Docker daemon offers no BuildKit"},
		{"bad CLOCAL_BUILDER", "fast", docker, Blocker, `CLOCAL_BUILDER="fast"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CLOCAL_BUILDER", tc.env)
			f := one(t, Run(ctx, noFaults(Env{Docker: tc.docker})), "builder")
			if f.Severity != tc.sev || !strings.Contains(f.Message, tc.msg) || (tc.sev != OK && f.Fix == "") {
				t.Errorf("builder finding = %+v, want %s with %q", f, tc.sev, tc.msg)
			}
		})
	}
}

// TestStorage: a storage driver whose layer diffs end on a whole second (dockerd's naive
// differ) is a warning that says so; a native-diff driver is fine.
func TestStorage(t *testing.T) {
	for _, tc := range []struct {
		name string
		info system.Info
		sev  Severity
	}{
		{"overlay2 native diff", system.Info{Driver: "overlay2", DriverStatus: [][2]string{{"Backing Filesystem", "extfs"}, {"Native Overlay Diff", "true"}}}, OK},
		{"overlay2 naive diff", system.Info{Driver: "overlay2", DriverStatus: [][2]string{{"Native Overlay Diff", "false"}}}, Warn},
		{"fuse-overlayfs", system.Info{Driver: "fuse-overlayfs"}, Warn},
		{"vfs", system.Info{Driver: "vfs"}, Warn},
		{"btrfs", system.Info{Driver: "btrfs"}, OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := storageFinding(tc.info)
			if f.Severity != tc.sev || !strings.Contains(f.Message, tc.info.Driver) || (tc.sev == Warn) != strings.Contains(f.Message, "whole second") || (tc.sev == Warn && f.Fix == "") {
				t.Errorf("storage finding = %+v, want %s", f, tc.sev)
			}
		})
	}

	// The real daemon's driver is reported, with the severity its docker info implies.
	docker := testutil.RequireDocker(t)
	info, err := docker.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := one(t, Run(context.Background(), noFaults(Env{Docker: docker})), "storage")
	if want := storageFinding(info); f != want || !strings.Contains(f.Message, info.Driver) {
		t.Errorf("storage finding = %+v, want %+v", f, want)
	}
}

// TestWatchLimitsPerPlatform: on macOS the watcher holds a file open per watched file, so
// the open files limit is what a large tree runs into, and the fix says how to raise it;
// Windows has no such limit.
func TestWatchLimitsPerPlatform(t *testing.T) {
	ws := load(t, testutil.RepoRoot())
	base := noFaults(Env{WS: ws, Targets: []string{"repo-manager"}, DockerErr: errors.New("x")})
	mac := base
	mac.OS, mac.OpenFilesLimit = "darwin", func() int { return 10240 }
	if f := one(t, Run(context.Background(), mac), "watch"); f.Severity != OK || !strings.Contains(f.Message, "open files limit 10240") {
		t.Errorf("darwin, plenty: %+v", f)
	}
	mac.OpenFilesLimit = func() int { return 4 }
	f := one(t, Run(context.Background(), mac), "watch")
	if f.Severity != Warn || !strings.Contains(f.Message, "macOS watches every file") || !strings.Contains(f.Fix, "sudo launchctl limit maxfiles 65536") || !strings.Contains(f.Fix, "ulimit -n") {
		t.Errorf("darwin, too low: %+v", f)
	}
	if len(find(Run(context.Background(), mac), "inotify")) != 0 {
		t.Error("inotify checked on macOS")
	}
	win := base
	win.OS = "windows"
	if f := one(t, Run(context.Background(), win), "watch"); f.Severity != OK {
		t.Errorf("windows: %+v", f)
	}
}

// TestDaemonInADesktopVM: with Docker Desktop (or Colima...) the daemon's data root is in
// a VM: no statfs of it here; its memory is checked instead.
func TestDaemonInADesktopVM(t *testing.T) {
	d := &dockerfake.Client{Version: types.Version{Version: "28.0.1", APIVersion: "1.48"},
		SystemInfo: system.Info{OperatingSystem: "Docker Desktop", Driver: "overlayfs", DockerRootDir: "/var/lib/docker", MemTotal: 8 << 30, NCPU: 4}}
	fs := checkDocker(context.Background(), Env{Docker: d})
	f := one(t, fs, "disk")
	if f.Severity != OK || !strings.Contains(f.Message, "runs in Docker Desktop's VM (8.0 GiB of memory, 4 CPUs)") {
		t.Errorf("desktop disk finding: %+v", f)
	}
	d.SystemInfo.MemTotal = 2 << 30
	f = one(t, checkDocker(context.Background(), Env{Docker: d}), "disk")
	if f.Severity != Warn || !strings.Contains(f.Fix, "Settings > Resources > Memory") {
		t.Errorf("small VM: %+v", f)
	}
	for osName, want := range map[string]string{"Docker Desktop": "Docker Desktop", "Ubuntu 24.04 LTS": "", "colima": "Colima", "Debian GNU/Linux 12 (bookworm)": ""} {
		if got := daemonVM(system.Info{OperatingSystem: osName}); got != want {
			t.Errorf("daemonVM(%q) = %q, want %q", osName, got, want)
		}
	}
}
