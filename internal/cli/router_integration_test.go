package cli

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/router"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// routerBins are two clocal executables built for the router image tests, both with a router
// image repository of their own (-X router.localRepository), so that creating and removing
// "the" router image never touches the one other tests on this daemon use: one static
// (CGO_ENABLED=0: it can be the router image itself), one that needs a dynamic loader.
var routerBins struct {
	once                  sync.Once
	dir, repo             string
	static, dynamic       string
	err                   error
	staticOut, dynamicOut string
}

func routerBinaries(t *testing.T) (static, dynamic, tag string) {
	t.Helper()
	b := &routerBins
	b.once.Do(func() {
		var buf [4]byte
		_, _ = rand.Read(buf[:])
		b.repo = "clocaltest-" + hex.EncodeToString(buf[:]) + "/router"
		if b.dir, b.err = os.MkdirTemp("", "clocal-routertest-"); b.err != nil {
			return
		}
		ld := "-ldflags=-X github.com/clocal-dev/clocal/internal/router.localRepository=" + b.repo
		build := func(out string, env []string, args ...string) error {
			cmd := exec.Command("go", append(append([]string{"build", ld}, args...), "-o", out, "./cmd/clocal")...)
			cmd.Dir = testutil.RepoRoot()
			cmd.Env = append(os.Environ(), env...)
			if o, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, o)
			}
			return nil
		}
		b.static = filepath.Join(b.dir, "static", "clocal")
		if b.err = build(b.static, []string{"CGO_ENABLED=0"}); b.err != nil {
			return
		}
		// The default build needs the C library's loader where a C compiler is installed
		// (cgo); without one, a position-independent executable does too.
		b.dynamic = filepath.Join(b.dir, "dynamic", "clocal")
		if b.err = build(b.dynamic, nil); b.err != nil {
			return
		}
		if !hasInterp(b.dynamic) {
			b.err = build(b.dynamic, []string{"CGO_ENABLED=0"}, "-buildmode=pie")
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	if hasInterp(b.static) || !hasInterp(b.dynamic) {
		t.Fatalf("test binaries: want %s static and %s dynamically linked", b.static, b.dynamic)
	}
	return b.static, b.dynamic, b.repo + ":" + router.Hash()
}

// removeRouterBinaries is called by TestMain.
func removeRouterBinaries() {
	if routerBins.dir != "" {
		_ = os.RemoveAll(routerBins.dir)
	}
}

func hasInterp(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// noGoEnv is the environment of a laptop without Go: no go command on PATH, GOROOT a
// folder without a toolchain.
func noGoEnv(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			continue
		}
		dirs = append(dirs, d)
	}
	return []string{"NO_COLOR=1", "PATH=" + strings.Join(dirs, string(filepath.ListSeparator)),
		"GOROOT=" + filepath.Join(t.TempDir(), "no-go-here")}
}

// runBin runs a clocal executable to completion.
func runBin(t *testing.T, ctx context.Context, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return result{Out: out.String(), Err: errOut.String(), Code: code}
}

// writeRouterFleet writes a workspace of three prebuilt apps: alpha and beta on production
// host rt-h1 (apart locally: nothing joins them, so rt-h1 needs a router), and client on
// rt-h2, whose health check calls rt-h1:PORT1 and http://rt-h1:PORT2/ as production wrote
// them. routerImage is clocal.yaml's router_image ("" none).
func writeRouterFleet(t *testing.T, prefix, routerImage string) string {
	t.Helper()
	ports := fleetPorts()
	cfg := "name: rt\njobs_root: prod\n"
	if routerImage != "" {
		cfg += "router_image: " + routerImage + "\n"
	}
	job := func(name, app, host string, envs ...string) string {
		s := fmt.Sprintf("job {\n  name: %q\n  image: %q\n  run_on_host: %q\n", name, prefix+"/"+app+":1", host)
		for i := 0; i+1 < len(envs); i += 2 {
			s += fmt.Sprintf("  envs { key: %q value: %q }\n", envs[i], envs[i+1])
		}
		return s + "}\n"
	}
	p1, p2 := fmt.Sprint(ports[0]), fmt.Sprint(ports[1])
	return testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml": cfg,
		"prod/rt-h1.jobs": job("alpha-1", "alpha", "rt-h1", "PORT", p1) +
			job("beta-1", "beta", "rt-h1", "PORT", p2),
		"prod/rt-h2.jobs":              job("client-1", "client", "rt-h2", "PORT", p1, "alpha_addr", "rt-h1:"+p1, "beta_url", "http://rt-h1:"+p2+"/"),
		"services/client/service.yaml": "healthcheck: {test: [CMD, /server, -healthcheck], interval: 1s, timeout: 5s, retries: 120}\n",
	})
}

// TestRouterImageWithoutGo is the laptop of a Java shop: a released clocal and no Go. A fleet
// whose production host rt-h1 needs a router comes up (i) with router_image naming a copy in
// the company registry, made there by (iv) `clocal router push`; (ii) with no router_image
// when clocal is a static Linux executable (it becomes the router image); and (iii) when
// neither works, up exits 1 with one line saying what to do and creates nothing. Each time
// the router really forwards: the client's health check (and an exec of it) calls both of
// rt-h1's addresses through it.
func TestRouterImageWithoutGo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the router image from clocal's executable needs a Linux clocal")
	}
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	reg := testutil.StartRegistry(t)
	static, dynamic, tag := routerBinaries(t)
	untag := func() {
		t.Helper()
		if err := testutil.Untag(context.Background(), docker, tag); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = testutil.Untag(context.Background(), docker, tag) })

	prefix := testutil.RandName("clocaltest-rt-")
	base := prefix + "/server:1"
	if err := testutil.BuildGoImage(ctx, docker, filepath.Join(testutil.RepoRoot(), "internal", "fleet", "server"), base,
		"FROM scratch\nCOPY server /server\nUSER 65534\nENTRYPOINT [\"/server\"]\n"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, base) })
	for _, app := range []string{"alpha", "beta", "client"} {
		img := prefix + "/" + app + ":1"
		if err := docker.ImageTag(ctx, base, img); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, img) })
	}
	env := noGoEnv(t)
	repo := reg.Ref("team/clocal-router")

	routerPresent := func() bool {
		_, err := docker.ImageInspect(ctx, tag)
		return err == nil
	}
	// up brings the fleet up as a developer would, and checks the router forwards.
	up := func(t *testing.T, bin, dir string) result {
		t.Helper()
		project := testProject(t)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if r := runBin(t, ctx, bin, env, "-w", dir, "-p", project, "down", "-v", "-t", "2s"); r.Code != 0 {
				t.Logf("cleanup: %s", r.Err)
			}
		})
		r := runBin(t, ctx, bin, env, "-w", dir, "-p", project, "up", "all", "--ephemeral-ports", "--timeout", "3m")
		if r.Code != 0 {
			t.Fatalf("up: exit %d\n%s\n%s", r.Code, r.Out, r.Err)
		}
		checkRouted(t, ctx, docker, project)
		if d := runBin(t, ctx, bin, env, "-w", dir, "-p", project, "down", "-v", "-t", "2s"); d.Code != 0 {
			t.Fatalf("down: %s", d.Err)
		}
		return r
	}

	t.Run("iii-none-works", func(t *testing.T) {
		if routerPresent() {
			t.Fatalf("%s exists before the test made it", tag)
		}
		dir := writeRouterFleet(t, prefix, "")
		project := testProject(t)
		r := runBin(t, ctx, dynamic, env, "-w", dir, "-p", project, "up", "all", "--ephemeral-ports")
		lines := strings.Split(strings.TrimRight(r.Err, "\n"), "\n")
		if r.Code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "clocal: router-rt-h1 ") ||
			!strings.Contains(lines[0], "set router_image: ") || !strings.Contains(lines[0], "clocal router push ") ||
			!strings.Contains(lines[0], "dynamically linked") || !strings.Contains(lines[0], "no go command") {
			t.Fatalf("want exit 1 and one line with the fix, got exit %d:\nstdout: %s\nstderr: %s", r.Code, r.Out, r.Err)
		}
		assertNothingCreated(t, docker, project)
		if routerPresent() {
			t.Fatalf("%s was created", tag)
		}
		// doctor says so before any up, with the fix
		d := runBin(t, ctx, dynamic, env, "-w", dir, "doctor", "all", "--json")
		var findings []struct{ Check, Severity, Message, Fix string }
		decode(t, "doctor --json", d.Out, &findings)
		var found bool
		for _, f := range findings {
			if f.Check == "router" {
				found = f.Severity == "fail" && strings.Contains(f.Message, "router-rt-h1") && strings.Contains(f.Fix, "clocal router push")
			}
		}
		if !found || d.Code != 1 {
			t.Fatalf("doctor: exit %d, want a router blocker with the fix:\n%s", d.Code, d.Out)
		}
		// router_image set, but --pull never forbids the pull: one line naming both
		dir = writeRouterFleet(t, prefix, repo)
		r = runBin(t, ctx, dynamic, env, "-w", dir, "-p", project, "up", "all", "--ephemeral-ports", "--pull", "never")
		lines = strings.Split(strings.TrimRight(r.Err, "\n"), "\n")
		if r.Code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "router_image did not work") || !strings.Contains(lines[0], "--pull never") {
			t.Fatalf("want exit 1 and one line about --pull never, got exit %d:\nstdout: %s\nstderr: %s", r.Code, r.Out, r.Err)
		}
		assertNothingCreated(t, docker, project)
	})

	t.Run("iv-router-push", func(t *testing.T) {
		r := runBin(t, ctx, static, env, "router", "push", repo)
		if r.Code != 0 {
			t.Fatalf("router push: exit %d\n%s\n%s", r.Code, r.Out, r.Err)
		}
		if !strings.Contains(r.Out, "made from this clocal executable") || !strings.Contains(r.Out, "router_image: "+repo) {
			t.Fatalf("router push output:\n%s", r.Out)
		}
		tags, err := reg.Tags("team/clocal-router")
		if err != nil || !slices.Contains(tags, router.Hash()) {
			t.Fatalf("registry tags of team/clocal-router: %v %v, want %s", tags, err, router.Hash())
		}
		img, err := docker.ImageInspect(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(img.Config.Entrypoint, " "); got != "/clocal "+router.Command {
			t.Fatalf("entrypoint %q", got)
		}
		if _, err := docker.ImageInspect(ctx, repo+":"+router.Hash()); err == nil {
			t.Fatalf("the pushed tag %s is left on the daemon", repo)
		}
		if strings.Contains(r.Out+r.Err, "\x1b") {
			t.Fatalf("escape codes under NO_COLOR:\n%q", r.Out+r.Err)
		}
		// again, as JSON: the image is there now; an explicit tag is pushed as written
		j := runBin(t, ctx, static, env, "router", "push", repo+":v1", "--json")
		var pushed struct {
			Image       string `json:"image"`
			Source      string `json:"source"`
			From        string `json:"from"`
			Platform    string `json:"platform"`
			Ref         string `json:"ref"`
			RouterImage string `json:"router_image"`
			Digest      string `json:"digest"`
		}
		decode(t, "router push --json", j.Out, &pushed)
		if j.Code != 0 || pushed.Image != tag || pushed.Source != "daemon" || pushed.Ref != repo+":v1" ||
			pushed.RouterImage != repo+":v1" || !strings.HasPrefix(pushed.Digest, "sha256:") || pushed.Platform != "linux/"+runtime.GOARCH {
			t.Fatalf("router push --json: exit %d %+v\n%s", j.Code, pushed, j.Err)
		}
		if tags, _ := reg.Tags("team/clocal-router"); !slices.Contains(tags, "v1") {
			t.Fatalf("registry tags %v, want v1 too", tags)
		}
		untag()
	})

	t.Run("ii-from-executable", func(t *testing.T) {
		if routerPresent() {
			t.Fatalf("%s exists", tag)
		}
		r := up(t, static, writeRouterFleet(t, prefix, ""))
		if !strings.Contains(r.Err, "router image: making "+tag+" from this clocal executable") {
			t.Fatalf("up did not say where the router image came from:\n%s", r.Err)
		}
		img, err := docker.ImageInspect(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(img.Config.Entrypoint, " "); got != "/clocal "+router.Command || len(img.RepoDigests) != 0 {
			t.Fatalf("router image: entrypoint %q, digests %v", got, img.RepoDigests)
		}
		untag()
	})

	t.Run("i-router-image", func(t *testing.T) {
		if routerPresent() {
			t.Fatalf("%s exists", tag)
		}
		// router_image comes before the executable, which would work too
		pulled := repo + ":" + router.Hash()
		t.Cleanup(func() { _ = testutil.Untag(context.Background(), docker, pulled) })
		r := up(t, static, writeRouterFleet(t, prefix, repo))
		if !strings.Contains(r.Err, "pulling "+repo+":"+router.Hash()+" (for router-rt-h1)") {
			t.Fatalf("up did not say where the router image came from:\n%s", r.Err)
		}
		img, err := docker.ImageInspect(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(img.RepoDigests, func(d string) bool { return strings.HasPrefix(d, repo+"@sha256:") }) {
			t.Fatalf("router image %s was not pulled from %s: digests %v", tag, repo, img.RepoDigests)
		}
		untag()
	})
}

// checkRouted checks the router of rt-h1 runs and forwards both of its ports: the client's
// own health check, run once more now, calls rt-h1:PORT1 and http://rt-h1:PORT2/.
func checkRouted(t *testing.T, ctx context.Context, docker *client.Client, project string) {
	t.Helper()
	ctrs, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labels.ComposeProject+"="+project))})
	if err != nil {
		t.Fatal(err)
	}
	var routerState, clientID string
	for _, c := range ctrs {
		switch c.Labels[labels.ComposeService] {
		case "router-rt-h1":
			routerState = c.State
		case "client":
			clientID = c.ID
		}
	}
	if routerState != "running" || clientID == "" {
		t.Fatalf("router-rt-h1 %q, client %q", routerState, clientID)
	}
	ex, err := docker.ContainerExecCreate(ctx, clientID, container.ExecOptions{Cmd: []string{"/server", "-healthcheck"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := docker.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := docker.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Running {
			if st.ExitCode != 0 {
				t.Fatalf("client's dependency check through the router: exit %d", st.ExitCode)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// assertNothingCreated checks the project has no container, network or volume.
func assertNothingCreated(t *testing.T, docker *client.Client, project string) {
	t.Helper()
	if c, n, v := leftovers(t, docker, project); len(c)+len(n)+len(v) > 0 {
		t.Fatalf("project %s: containers %v, networks %v, volumes %v created", project, c, n, v)
	}
}
