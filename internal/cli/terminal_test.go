package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// colorfulWorkspace copies testdata/colorful (one service whose build.sh prints colour)
// and makes sure its base image exists.
func colorfulWorkspace(t *testing.T) string {
	t.Helper()
	testutil.EnsureBusybox(t)
	return testutil.CopyDir(t, filepath.Join(repoRoot(t), "internal", "cli", "testdata", "colorful"))
}

// ptyProc is the clocal binary running in a pseudo-terminal (stdin, stdout and stderr).
type ptyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func startInPTY(t *testing.T, env []string, args ...string) *ptyProc {
	t.Helper()
	p := &ptyProc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(clocalBinary(t), args...)
	p.cmd.Env = append(withoutEnv(os.Environ(), "NO_COLOR", "CI"), append([]string{"TERM=xterm-256color"}, env...)...)
	f, err := pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		_ = f.Close()
		<-p.done
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output matches re (or the process ended without it).
func (p *ptyProc) waitFor(re *regexp.Regexp, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !re.MatchString(p.output()) {
		select {
		case <-p.done:
			if re.MatchString(p.output()) {
				return
			}
			p.t.Fatalf("clocal ended without %q:\n%q", re, tail(p.output(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q within %s:\n%q", re, timeout, tail(p.output(), 3000))
		}
	}
}

// wait waits for the process to end and returns its exit code.
func (p *ptyProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("clocal still running after %s:\n%q", timeout, p.output())
	}
	_ = p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

func withoutEnv(env []string, keys ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			drop = drop || k == key
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// TestLiveBuildLinesInATerminal: in a terminal, up shows the build as one line per service,
// redrawn in place (cursor up, erase line) with its step, elapsed time and last output
// line, while build.sh runs (it waits for the test here, so the check does not depend on
// how fast anything is); at the end the line says built. The same up without a terminal
// (or with NO_COLOR) prints prefixed lines and no escape code at all.
func TestLiveBuildLinesInATerminal(t *testing.T) {
	root := colorfulWorkspace(t)
	project := testProject(t)
	cleanupProjectIn(t, root, project)
	hold := filepath.Join(t.TempDir(), "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startInPTY(t, []string{"CLOCAL_TEST_HOLD=" + hold}, "-w", root, "-p", project, "up", "colorful", "--build", "--ephemeral-ports")
	// The live line: service, step, elapsed seconds, the last line build.sh printed
	// (without its colour codes), after an erase-line.
	live := regexp.MustCompile(`\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] colorful\s+build\.sh\s+\d+\.\ds  waiting for the test`)
	p.waitFor(live, 5*time.Minute)
	// Redrawn in place: the cursor goes back up over the block.
	p.waitFor(regexp.MustCompile(`\x1b\[1A\r\x1b\[2K`), time.Minute)
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(5 * time.Minute); code != 0 {
		t.Fatalf("up exit %d:\n%q", code, p.output())
	}
	out := p.output()
	if !regexp.MustCompile(`✔ colorful\s+built\s+\d+\.\ds`).MatchString(out) {
		t.Errorf("no final built line:\n%q", out)
	}
	// The build output itself is not printed line by line in the terminal.
	if strings.Contains(out, "colorful | ") {
		t.Errorf("prefixed build lines in the live view:\n%q", out)
	}

	// No terminal: prefixed lines, no escape code.
	r := runClocal(t, 5*time.Minute, []string{"NO_COLOR="}, "-w", root, "-p", project, "up", "colorful", "--build", "--ephemeral-ports")
	if r.Code != 0 || !strings.Contains(r.Err, "colorful | ==> compiling colorful") || strings.Contains(r.Out+r.Err, "\x1b") {
		t.Errorf("up without a terminal: exit %d\n%q", r.Code, r.Err)
	}
	// A terminal with NO_COLOR: prefixed lines again, no escape code either.
	p = startInPTY(t, []string{"NO_COLOR=1"}, "-w", root, "-p", project, "up", "colorful", "--build", "--ephemeral-ports")
	if code := p.wait(5 * time.Minute); code != 0 || strings.Contains(p.output(), "\x1b") || !strings.Contains(p.output(), "colorful | ==> compiling colorful") {
		t.Errorf("up in a terminal with NO_COLOR: exit %d\n%q", code, p.output())
	}
	// -q: only the result.
	p = startInPTY(t, nil, "-w", root, "-p", project, "-q", "up", "colorful", "--build", "--ephemeral-ports")
	if code := p.wait(5 * time.Minute); code != 0 || strings.Contains(p.output(), "compiling") || strings.Contains(p.output(), "build.sh") || strings.Contains(p.output(), "Container") {
		t.Errorf("up -q: exit %d\n%q", code, p.output())
	}
}

// cleanupProjectIn removes the project's containers, networks and volumes at test end.
func cleanupProjectIn(t *testing.T, root, project string) {
	t.Cleanup(func() {
		r := runCLI(t, context.Background(), "-w", root, "-p", project, "down", "-v", "-t", "0")
		if r.Code != 0 {
			t.Logf("cleanup down %s: %s", project, r.Err)
		}
	})
}

// tail is the end of s (failure messages of long outputs).
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
