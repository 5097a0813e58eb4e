package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/doctor"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func doctorFindings(t *testing.T, r result) []doctor.Finding {
	t.Helper()
	var fs []doctor.Finding
	if err := json.Unmarshal([]byte(r.Out), &fs); err != nil {
		t.Fatalf("doctor --json: %v\n%s\n%s", err, r.Out, r.Err)
	}
	return fs
}

func findingsOf(fs []doctor.Finding, check string) []doctor.Finding {
	var out []doctor.Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// TestDoctorPortTaken: a port the target needs is really taken (this test listens on it):
// doctor warns naming the port, that up publishes the service elsewhere, and how to keep it.
func TestDoctorPortTaken(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	sy := filepath.Join(root, "services", "kvstore", "service.yaml")
	data, _ := os.ReadFile(sy)
	if err := os.WriteFile(sy, append(data, []byte(fmt.Sprintf("ports: [%d]\n", port))...), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := runCLI(t, ctx, "-w", root, "-p", testProject(t), "doctor", "kvstore")
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^warn ports +port %d \(kvstore\) is already in use on 127\.0\.0\.1: clocal up publishes kvstore on a free port instead.*\n +fix: .*ss -ltnp 'sport = :%d'.*--isolated`, port, port))
	if !line.MatchString(r.Out) {
		t.Errorf("doctor output has no warn line for port %d with its fix:\n%s", port, r.Out)
	}
	l.Close()
	r = runCLI(t, ctx, "-w", root, "-p", testProject(t), "doctor", "kvstore", "--json")
	for _, f := range findingsOf(doctorFindings(t, r), "ports") {
		if f.Severity != doctor.OK {
			t.Errorf("port freed, still: %+v", f)
		}
	}
}

// TestDoctorDockerUnreachable: with DOCKER_HOST pointing nowhere, doctor still runs every
// check, reports the daemon as the blocker with its fix, and exits 1.
func TestDoctorDockerUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard only
	defer cancel()
	r := runCLI(t, ctx, "-w", repoRoot(t), "doctor", "repo-manager", "--json")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want 1", r.Code)
	}
	fs := doctorFindings(t, r)
	d := findingsOf(fs, "docker")
	if len(d) != 1 || d[0].Severity != doctor.Blocker || d[0].Fix == "" || !strings.Contains(d[0].Message, "nonexistent") {
		t.Errorf("docker findings = %+v", d)
	}
	for _, check := range []string{"inotify", "ports", "sources", "build-tools"} {
		if len(findingsOf(fs, check)) == 0 {
			t.Errorf("no %s finding when Docker is down: %+v", check, fs)
		}
	}
}

// TestDoctorBuildToolMissingFromPATH: a PATH without go (but with the other tools the
// build scripts run) makes doctor say which build.sh needs it and how to install it.
func TestDoctorBuildToolMissingFromPATH(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"mkdir", "touch", "git", "sh", "bash"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("PATH", bin)
	r := runCLI(t, context.Background(), "-w", repoRoot(t), "-p", testProject(t), "doctor", "blog", "--json")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want 1", r.Code)
	}
	bt := findingsOf(doctorFindings(t, r), "build-tools")
	want := map[string]bool{"coding-blog": true, "kvstore": true, "markdown-renderer": true}
	for _, f := range bt {
		svc, _, _ := strings.Cut(f.Message, "'s build.sh")
		if f.Severity != doctor.Blocker || !strings.Contains(f.Message, `runs "go", which is not on PATH`) || !strings.Contains(f.Fix, "install Go") || !want[svc] {
			t.Errorf("build-tools finding = %+v", f)
		}
		delete(want, svc)
	}
	if len(want) > 0 {
		t.Errorf("no missing-go finding for %v: %+v", want, bt)
	}
}

// TestDoctorSourceMissing: the app folder of a service the target needs is deleted (in a
// copy): FAIL sources, naming the folder and how to get it back.
func TestDoctorSourceMissing(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	src := filepath.Join(root, "apps", "repo-manager")
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, context.Background(), "-w", root, "-p", testProject(t), "doctor", "repo-manager", "--json")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want 1", r.Code)
	}
	s := findingsOf(doctorFindings(t, r), "sources")
	if len(s) != 1 || s[0].Severity != doctor.Blocker || !strings.Contains(s[0].Message, src) || !strings.Contains(s[0].Fix, "sources.repo-manager") {
		t.Errorf("sources findings = %+v", s)
	}
}

// TestProfilesListsDescriptionsAndCounts checks `clocal profiles` against the workspace.
func TestProfilesListsDescriptionsAndCounts(t *testing.T) {
	root := repoRoot(t)
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, context.Background(), "-w", root, "profiles")
	lines := strings.Split(strings.TrimRight(r.Out, "\n"), "\n")
	if !regexp.MustCompile(`^PROFILE +SERVICES +DESCRIPTION$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	names := ws.ProfileNames()
	if len(lines)-1 != len(names) || len(names) < 4 {
		t.Fatalf("%d profile lines for %d profiles:\n%s", len(lines)-1, len(names), r.Out)
	}
	for i, name := range names {
		sel, err := ws.Resolve([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(fmt.Sprintf(`^%s +%d +%s$`, regexp.QuoteMeta(name), len(sel.Services), regexp.QuoteMeta(ws.Profiles[name].Description)))
		if !re.MatchString(lines[i+1]) {
			t.Errorf("line %q, want %s with %d services and its description", lines[i+1], name, len(sel.Services))
		}
	}
	if !regexp.MustCompile(`(?m)^repo-manager +3 +Repo manager`).MatchString(r.Out) || !regexp.MustCompile(`(?m)^all +8 `).MatchString(r.Out) {
		t.Errorf("profiles:\n%s", r.Out)
	}
	var infos []profileInfo
	if err := json.Unmarshal([]byte(mustRun(t, context.Background(), "-w", root, "profiles", "--json").Out), &infos); err != nil || len(infos) != len(names) {
		t.Errorf("profiles --json: %v %+v", err, infos)
	}
}

// TestInitCreatesLocalFileAndShowsNextSteps runs `clocal init` on a copy of the workspace.
func TestInitCreatesLocalFileAndShowsNextSteps(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	local := filepath.Join(root, workspace.LocalFile)
	if _, err := os.Stat(local); err == nil {
		t.Fatal("the copy already has a local file")
	}
	r := runCLI(t, context.Background(), "-w", root, "-p", testProject(t), "init")
	if r.Code != 0 && r.Code != ExitFailure {
		t.Fatalf("init: exit %d\n%s\n%s", r.Code, r.Out, r.Err)
	}
	if r.Code == ExitFailure && !strings.Contains(r.Out, "fix the FAIL lines above first") {
		t.Errorf("init exit 1 without saying what to fix:\n%s", r.Out)
	}
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatalf("init did not create %s: %v", workspace.LocalFile, err)
	}
	if _, err := workspace.Load(root); err != nil {
		t.Errorf("the created %s does not load: %v\n%s", workspace.LocalFile, err, data)
	}
	for _, want := range []string{"1. Checking this machine", "docker", "created " + workspace.LocalFile,
		"3. Profiles", "repo-manager", "Repo manager and what it needs", "blog", "notify", "all",
		"clocal up repo-manager ", "clocal up repo-manager --watch"} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("init output lacks %q:\n%s", want, r.Out)
		}
	}
	// A second run keeps the developer's file.
	if err := os.WriteFile(local, []byte("env: {repo-manager: {LOG_LEVEL: trace}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, context.Background(), "-w", root, "-p", testProject(t), "init", "blog")
	if !strings.Contains(r.Out, workspace.LocalFile+" exists") || !strings.Contains(r.Out, "clocal up blog ") {
		t.Errorf("second init:\n%s", r.Out)
	}
	if data, _ := os.ReadFile(local); !strings.Contains(string(data), "LOG_LEVEL: trace") {
		t.Errorf("init overwrote the local file: %s", data)
	}
}
