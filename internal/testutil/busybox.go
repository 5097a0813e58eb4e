package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BusyboxImage is the local shell image scripts/base-image.sh creates.
const BusyboxImage = "clocal/busybox:local"

var busyboxMu sync.Mutex

// EnsureBusybox makes sure the local shell image clocal/busybox:local exists
// (running scripts/base-image.sh, which imports Debian's static busybox; nothing
// is pulled) and returns its reference. It calls RequireDocker first, so it
// skips or fails like RequireDocker when the daemon is unreachable.
func EnsureBusybox(t testing.TB) string {
	t.Helper()
	cli := RequireDocker(t)
	busyboxMu.Lock()
	defer busyboxMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, BusyboxImage); err == nil {
		return BusyboxImage
	}
	script, err := findRepoFile(filepath.Join("scripts", "base-image.sh"))
	if err != nil {
		t.Fatalf("EnsureBusybox: %v", err)
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "IMAGE="+BusyboxImage)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("EnsureBusybox: %s: %v\n%s", script, err, out)
	}
	if _, err := cli.ImageInspect(ctx, BusyboxImage); err != nil {
		t.Fatalf("EnsureBusybox: %s ran but %s is missing: %v", script, BusyboxImage, err)
	}
	return BusyboxImage
}

// findRepoFile looks for rel in the current directory and its parents (tests
// run in their package directory).
func findRepoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", &os.PathError{Op: "find", Path: rel, Err: os.ErrNotExist}
		}
		dir = parent
	}
}
