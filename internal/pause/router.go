package pause

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

//go:embed router/main.go
var routerSource []byte

// RouterImage is the tag of the router image: it names the hash of the router's source, so
// a clocal with another router builds its own.
var RouterImage = func() string {
	sum := sha256.Sum256(routerSource)
	return "clocal/router:" + hex.EncodeToString(sum[:])[:12]
}()

// ErrNoGo is returned when the router image is missing and no Go toolchain can build it.
var ErrNoGo = errors.New("no Go toolchain found to build clocal's router image (install Go, or put go on PATH)")

// goTool finds the go command: on PATH, else in the toolchain clocal was built with.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNoGo
}

// daemonArch is the daemon's architecture as a GOARCH.
func daemonArch(ctx context.Context, docker client.APIClient) string {
	arch := runtime.GOARCH
	if info, err := docker.Info(ctx); err == nil {
		switch info.Architecture {
		case "x86_64", "amd64":
			arch = "amd64"
		case "aarch64", "arm64":
			arch = "arm64"
		}
	}
	return arch
}

// EnsureRouter makes sure the router image exists on the daemon and returns its tag. The
// router (router/main.go, standard library only) is compiled with the local Go toolchain
// for the daemon's architecture (CGO_ENABLED=0, static) and imported as a one-file image:
// nothing is pulled.
func EnsureRouter(ctx context.Context, docker client.APIClient) (string, error) {
	if _, err := docker.ImageInspect(ctx, RouterImage); err == nil {
		return RouterImage, nil
	}
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	arch := daemonArch(ctx, docker)
	tmp, err := os.MkdirTemp("", "clocal-router-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "main.go"), routerSource, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "router")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "main.go")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=", "GO111MODULE=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build router image: go build: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "router", Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := tw.Write(exe); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	// root: production ports below 1024 must be listened on too; the image holds nothing else.
	rc, err := docker.ImageImport(ctx, image.ImportSource{Source: &layer, SourceName: "-"}, RouterImage, image.ImportOptions{
		Changes:  []string{`ENTRYPOINT ["/router"]`, `LABEL dev.clocal.managed=router`},
		Platform: "linux/" + arch,
	})
	if err != nil {
		return "", fmt.Errorf("create router image: %w", err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, &bytes.Buffer{}, 0, false, nil); err != nil {
		return "", fmt.Errorf("create router image: %w", err)
	}
	return RouterImage, nil
}
