package pause_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/pause"
	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestExecutableRunsAndStopsOnSignal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ELF executable only runs on linux")
	}
	exe, err := pause.Executable(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hand-made ELF: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited on its own: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupt") {
			t.Fatalf("want death by SIGINT, got %v", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("pause did not stop on SIGINT")
	}
}

func TestUnsupportedArch(t *testing.T) {
	if _, err := pause.Executable("mips"); err == nil {
		t.Fatal("want error for unsupported architecture")
	}
}

func TestEnsureCreatesRunnableImage(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx := context.Background()
	img, err := pause.Ensure(ctx, docker)
	if err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	if _, err := pause.Ensure(ctx, docker); err != nil {
		t.Fatal(err)
	}
	name := "clocal-pause-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	_ = exec.Command("docker", "rm", "-f", name).Run()
	out, err := exec.Command("docker", "run", "-d", "--init", "--name", name, img).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	time.Sleep(500 * time.Millisecond)
	state, _ := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.Config.User}}", name).Output()
	if got := strings.TrimSpace(string(state)); got != "running 65534:65534" {
		t.Fatalf("container state = %q, want running as 65534", got)
	}
	if out, err := exec.Command("docker", "stop", "-t", "10", name).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v: %s", err, out)
	}
	// Stopped by the SIGTERM itself (init reports 128+15), not by the SIGKILL docker sends
	// after the grace period to a process that ignores it (137).
	code, _ := exec.Command("docker", "inspect", "-f", "{{.State.ExitCode}}", name).Output()
	if got := strings.TrimSpace(string(code)); got != "143" && got != "0" {
		t.Fatalf("exit code after docker stop = %s, want 143 (SIGTERM honoured)", got)
	}
}
