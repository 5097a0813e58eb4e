package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/doctor"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestToolchainExample: the example's code-search is built like the article's services: its
// build.sh runs the Go toolchain in a container (`docker run -it`, the workspace and a
// dependency cache mounted), and the docker CLI pulls that toolchain from the registry on
// first use. doctor says how to get the toolchain when its registry is unreachable, and
// that the registry has it once pushed; repo-manager's closure needs no registry at all.
func TestToolchainExample(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	ws, err := workspace.Load(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	sel, err := ws.Resolve([]string{"repo-manager"})
	if err != nil || slices.Contains(sel.Services, "code-search") {
		t.Fatalf("repo-manager's closure %v (%v) includes code-search", sel, err)
	}
	r := runCLI(t, ctx, "-w", repoRoot(t), "-p", testProject(t), "doctor", "repo-manager", "--json")
	if imgs := findingsOf(doctorFindings(t, r), "images"); len(imgs) != 1 || imgs[0].Severity != doctor.OK {
		t.Fatalf("repo-manager needs an image from a registry: %+v", imgs)
	}

	// The company registry's toolchain: made from this machine's Go, pushed, removed here.
	reg := testutil.StartRegistry(t)
	local := testutil.RandName("clocaltest/toolchain:")
	script := filepath.Join(repoRoot(t), "scripts", "toolchain-image.sh")
	if out, err := exec.CommandContext(ctx, "bash", script, local).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, local) })
	toolchain := reg.Push(t, docker, local, "toolchains/go:1.26")
	if err := testutil.RemoveImage(ctx, docker, local); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, toolchain) })

	root := testutil.CopyWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	// Share this machine's Go build cache as the dependency cache: the standard library is
	// compiled already (same Go, same flags), as a developer's ~/.m2 would be.
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GO_BUILD_CACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("GO_MOD_CACHE", t.TempDir())

	// Registry unreachable: doctor blocks and says how to get the toolchain.
	gone := testutil.ClosedAddr(t) + "/toolchains/go:1.26"
	t.Setenv("TOOLCHAIN_IMAGE", gone)
	r = runCLI(t, ctx, "-w", root, "-p", project, "doctor", "code-search", "--json")
	f := imageFinding(t, r, gone)
	if r.Code != ExitFailure || f.Severity != doctor.Blocker || !strings.Contains(f.Message, "build.sh of code-search") ||
		!strings.Contains(f.Fix, "docker login "+strings.Split(gone, "/")[0]) || !strings.Contains(f.Fix, "docker pull "+gone) {
		t.Fatalf("doctor with the toolchain's registry unreachable: exit %d, %+v", r.Code, f)
	}

	// Pushed: doctor says the registry has it; up builds with it (the docker CLI in
	// build.sh pulls it) and the service answers.
	t.Setenv("TOOLCHAIN_IMAGE", toolchain)
	r = runCLI(t, ctx, "-w", root, "-p", project, "doctor", "code-search", "--json")
	if f := imageFinding(t, r, toolchain); f.Severity != doctor.OK || !strings.Contains(f.Message, "registry "+reg.Host+" has it") {
		t.Fatalf("doctor with the toolchain pushed: %+v", f)
	}
	r = runCLI(t, ctx, "-w", root, "-p", project, "up", "code-search", "--ephemeral-ports", "--json")
	if r.Code != 0 {
		t.Fatalf("up code-search: exit %d\n%s", r.Code, r.Err)
	}
	if !strings.Contains(r.Err, "Unable to find image '"+toolchain+"' locally") {
		t.Errorf("build.sh's docker run did not pull the toolchain:\n%s", r.Err)
	}
	if _, err := docker.ImageInspect(ctx, toolchain); err != nil {
		t.Errorf("the toolchain is not present after the build: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "services", "code-search", ".src", "target", "code-search")); err != nil {
		t.Errorf("build.sh left no binary: %v", err)
	}
	url := strings.TrimSuffix(strings.SplitN(strings.SplitN(r.Out, `"url": "`, 2)[1], `"`, 2)[0], "/")
	if got := httpGet(t, url+"/"); !strings.Contains(got, `"marker":"code-search-v1"`) {
		t.Fatalf("code-search answers %s", got)
	}
}

// imageFinding is doctor's images finding about ref.
func imageFinding(t *testing.T, r result, ref string) doctor.Finding {
	t.Helper()
	for _, f := range findingsOf(doctorFindings(t, r), "images") {
		if strings.HasPrefix(f.Message, ref+" ") {
			return f
		}
	}
	t.Fatalf("no images finding about %s:\n%s\n%s", ref, r.Out, r.Err)
	return doctor.Finding{}
}
