package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// RandName returns prefix followed by 8 random hex characters, e.g. "clocaltest-1a2b3c4d".
func RandName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testServerDir is the folder of the testserver command.
func testServerDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate testutil sources")
	}
	return filepath.Join(filepath.Dir(file), "testserver"), nil
}

// BuildTestServerImage builds the testserver command (static, CGO_ENABLED=0) and an image
// tagged tag from it: FROM scratch, /server as entrypoint, USER 65534, port 8080. It uses
// the daemon's classic builder, so nothing is pulled. Healthcheck command:
// ["CMD", "/server", "-healthcheck"]. The caller removes the image (RemoveImage).
func BuildTestServerImage(ctx context.Context, cli client.APIClient, tag string) error {
	dir, err := testServerDir()
	if err != nil {
		return err
	}
	return BuildGoImage(ctx, cli, dir, tag, "FROM scratch\nCOPY server /server\nUSER 65534\nEXPOSE 8080\nENTRYPOINT [\"/server\"]\n")
}

// BuildGoImage builds the Go command in dir (static, CGO_ENABLED=0) as "server" and an image
// tagged tag from dockerfile (which COPYs server) with the daemon's classic builder:
// nothing is pulled. The caller removes the image (RemoveImage).
func BuildGoImage(ctx context.Context, cli client.APIClient, dir, tag, dockerfile string) error {
	tmp, err := os.MkdirTemp("", "clocal-testserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(tmp, "server")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build testserver: %w\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	return BuildImage(ctx, cli, tag, dockerfile, map[string]string{"server": string(data)})
}

// RemoveImage removes an image, ignoring a missing one.
func RemoveImage(ctx context.Context, cli client.APIClient, ref string) error {
	_, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !client.IsErrNotFound(err) {
		return err
	}
	return nil
}

// TestServerImage builds (once per call) a testserver image with a random tag and
// removes it when the test ends. Tests sharing one image should build it in TestMain or
// a sync.Once with BuildTestServerImage instead.
func TestServerImage(t testing.TB) string {
	t.Helper()
	cli := RequireDocker(t)
	tag := RandName("clocaltest/server:")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := BuildTestServerImage(ctx, cli, tag); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = RemoveImage(context.Background(), cli, tag) })
	return tag
}
