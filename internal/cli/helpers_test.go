package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
)

// repoRoot is the example workspace (the repository itself).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

type result struct {
	Out, Err string
	Code     int
}

// runCLI runs clocal in-process with buffers, like main does.
func runCLI(t testing.TB, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	no := false
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, TTY: &no, NoColor: true}
	root := NewRootCmd(NewFactory(io))
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil && err != nil {
		err = context.Canceled
	}
	PrintError(&errOut, err)
	return result{Out: out.String(), Err: errOut.String(), Code: ExitCode(err)}
}

func mustRun(t testing.TB, ctx context.Context, args ...string) result {
	t.Helper()
	r := runCLI(t, ctx, args...)
	if r.Code != 0 {
		t.Fatalf("clocal %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Out, r.Err)
	}
	return r
}

func testProject(t testing.TB) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "clocaltest-" + hex.EncodeToString(b[:])
}

// leftovers lists containers, networks and volumes labelled with the project.
func leftovers(t testing.TB, docker *client.Client, project string) (ctrs, nets, vols []string) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))
	cl, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cl {
		ctrs = append(ctrs, c.Names...)
	}
	nl, err := docker.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nl {
		nets = append(nets, n.Name)
	}
	vl, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vl.Volumes {
		vols = append(vols, v.Name)
	}
	return
}

// cleanupProject removes everything of project (even named volumes) at test end.
func cleanupProject(t testing.TB, project string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r := runCLI(t, ctx, "-w", repoRoot(t), "-p", project, "down", "-v", "-t", "2s")
		if r.Code != 0 {
			t.Logf("cleanup down %s: %s", project, r.Err)
		}
	})
}

func TestMain(m *testing.M) {
	// Build output of in-process runs must never reach the real stdout; tests check it.
	code := m.Run()
	removeTestBinary()     // the clocal binary the reliability tests run as a subprocess
	removeRouterBinaries() // the router image tests' clocal binaries
	os.Exit(code)
}
