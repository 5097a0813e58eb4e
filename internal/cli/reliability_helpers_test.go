package cli

// Helpers of the reliability tests (docs/reliability.md): the real clocal binary run as a
// subprocess, fixture workspaces copied into temp dirs, and Docker-side checks.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

// clocalBinary builds cmd/clocal once per test process (removed by TestMain).
func clocalBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "clocal-reltest-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "clocal")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/clocal")
		cmd.Dir = repoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = &buildErr{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("go build clocal: %v", binErr)
	}
	return binPath
}

type buildErr struct {
	err error
	out string
}

func (e *buildErr) Error() string { return e.err.Error() + "\n" + e.out }

// removeTestBinary is called by TestMain after the tests.
func removeTestBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// proc is a clocal subprocess.
type proc struct {
	t        testing.TB
	cmd      *exec.Cmd
	out, err testutil.SyncBuffer
	done     chan struct{}
	code     int
}

// startClocal starts the clocal binary with args; env entries are added to the test's
// environment. The process is killed at test end if still running.
func startClocal(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(clocalBinary(t), args...)
	p.cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if ws, ok := p.cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && ws.Signaled() {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// runClocal runs the binary to completion (bounded by timeout) and returns its result.
func runClocal(t testing.TB, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	p := startClocal(t, env, args...)
	return p.wait(timeout)
}

// wait waits for the process to exit.
func (p *proc) wait(timeout time.Duration) result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("clocal %s did not exit within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), timeout, p.out.String(), p.err.String())
	}
	return result{Out: p.out.String(), Err: p.err.String(), Code: p.code}
}

// waitOutput waits until stdout or stderr contains s.
func (p *proc) waitOutput(s string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.out.String(), s) || strings.Contains(p.err.String(), s) {
			return
		}
		select {
		case <-p.done:
			if strings.Contains(p.out.String(), s) || strings.Contains(p.err.String(), s) {
				return
			}
			p.t.Fatalf("clocal %s exited (%d) before printing %q\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), p.code, s, p.out.String(), p.err.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.t.Fatalf("clocal %s: no %q within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), s, timeout, p.out.String(), p.err.String())
}

// copyFixture copies a folder (a fixture workspace) into a fresh temp dir.
func copyFixture(t testing.TB, src string) string {
	t.Helper()
	return testutil.CopyDir(t, src)
}

// faultsWorkspace returns a copy of testdata/faults (a chatty and a zombie-making service).
func faultsWorkspace(t testing.TB) string {
	return copyFixture(t, filepath.Join(repoRoot(t), "internal", "cli", "testdata", "faults"))
}

// cleanupStack removes everything of project (named volumes included) and the images the
// workspace copy root built itself (labelled with it; never the shared example images,
// which carry the label of the workspace that built them first).
func cleanupStack(t testing.TB, docker *client.Client, root, project string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r := runCLI(t, ctx, "-w", root, "-p", project, "down", "-v", "-t", "1s")
		if r.Code != 0 {
			t.Logf("cleanup down %s: %s", project, r.Err)
		}
		if root == repoRoot(t) {
			return
		}
		imgs, err := docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Workspace+"="+root))})
		if err != nil {
			return
		}
		for _, img := range imgs {
			_, _ = docker.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: false, PruneChildren: true})
		}
	})
}

// projectContainers lists the project's containers (all states).
func projectContainers(t testing.TB, docker *client.Client, project string) []container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// containerStates returns "service=state" per container, sorted by service.
func containerStates(t testing.TB, docker *client.Client, project string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range projectContainers(t, docker, project) {
		svc := c.Labels[labels.ComposeService]
		out[svc] = append(out[svc], c.State)
	}
	return out
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// soak reports whether the long variants run (CLOCAL_SOAK=1).
func soak() bool { return os.Getenv("CLOCAL_SOAK") == "1" }

// editFile replaces old by new in a file of a workspace copy (once, must match).
func editFile(t testing.TB, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
}
