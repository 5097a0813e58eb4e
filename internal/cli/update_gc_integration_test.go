package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	clocalbuild "github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// runCLIWith runs clocal in-process like runCLI, with a given input and terminal answer.
func runCLIWith(t testing.TB, ctx context.Context, in string, tty bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IOStreams{In: strings.NewReader(in), Out: &out, ErrOut: &errOut, TTY: &tty, NoColor: true}
	root := NewRootCmd(NewFactory(io))
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	PrintError(&errOut, err)
	return result{Out: out.String(), Err: errOut.String(), Code: ExitCode(err)}
}

// ugBuild builds the workspace copy's images of service with the build package, as up would.
func ugBuild(t *testing.T, ctx context.Context, docker client.APIClient, ws, service string) string {
	t.Helper()
	w, err := workspace.Load(ws)
	if err != nil {
		t.Fatal(err)
	}
	res, err := stack.New(w, "", nil, docker, io.Discard).Build(ctx, []string{service}, false)
	if err != nil {
		t.Fatalf("build %s: %v", service, err)
	}
	return res[service].Image
}

// ugServiceState returns the running image and the published address of service.
func ugServiceState(t *testing.T, ctx context.Context, ws, project, service, port string) (img, addr string) {
	t.Helper()
	r := mustRun(t, ctx, "-w", ws, "-p", project, "ps", "--json")
	var rows []psJSON
	if err := json.Unmarshal([]byte(r.Out), &rows); err != nil {
		t.Fatalf("ps --json: %v\n%s", err, r.Out)
	}
	for _, row := range rows {
		if row.Service == service {
			img = row.Image
		}
	}
	addr = strings.TrimSpace(mustRun(t, ctx, "-w", ws, "-p", project, "port", service, port).Out)
	return img, addr
}

func ugMarker(t *testing.T, addr string) string {
	t.Helper()
	code, body, err := skGet("http://" + addr + "/")
	if err != nil || code != 200 {
		t.Fatalf("GET http://%s/ = %d %v", addr, code, err)
	}
	m, _ := body["marker"].(string)
	return m
}

// TestUpdateRollsBackUnhealthyImage: on a workspace copy, image A runs; image B (its
// healthcheck always fails) is picked with --to: update exits 1, says it rolled back, and
// A runs and answers again; a healthy image C is switched to; the interactive pick (a
// terminal and "N\n" on stdin) switches back to A.
func TestUpdateRollsBackUnhealthyImage(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ws := testutil.CopyWorkspace(t)
	project := testProject(t)
	// Fewer retries: B is found unhealthy within seconds instead of a minute.
	editFile(t, filepath.Join(ws, "services/kvstore/service.yaml"), "retries: 60", "retries: 3")
	var created []string
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if r := runCLI(t, ctx, "-w", ws, "-p", project, "down", "-v", "-t", "2s"); r.Code != 0 {
			t.Logf("cleanup down: %s", r.Err)
		}
		for _, ref := range created {
			// Only images of this copy (their hash covers the copy's path): never the
			// shared example images.
			if ii, err := docker.ImageInspect(ctx, ref); err == nil && ii.Config != nil && ii.Config.Labels[labels.Workspace] == ws {
				_ = testutil.RemoveImage(ctx, docker, ref)
			}
		}
	})

	// A git checkout: the list shows the source revision each image was built from.
	gitCmd := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", ws}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitCmd("init", "-q")
	gitCmd("add", "-A")
	gitCmd("commit", "-q", "-m", "copy")
	rev := gitCmd("rev-parse", "--short", "HEAD")

	r := mustRun(t, ctx, "-w", ws, "-p", project, "up", "kvstore", "--ephemeral-ports", "--json", "--timeout", "5m")
	var up upJSON
	if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
		t.Fatalf("up --json: %v\n%s", err, r.Out)
	}
	imgA := up.Services["kvstore"].Image
	created = append(created, imgA)
	if ii, err := docker.ImageInspect(ctx, imgA); err != nil || ii.Config.Labels[labels.Workspace] != ws {
		t.Fatalf("image %s is not the copy's own (%v): the test would touch shared images", imgA, err)
	}
	if m := ugMarker(t, up.Services["kvstore"].Address); m != "kvstore-v1" {
		t.Fatalf("A's marker = %q", m)
	}

	// B: same service, healthcheck always fails (the server itself answers).
	mainGo := filepath.Join(ws, "apps/kvstore/main.go")
	markerGo := filepath.Join(ws, "apps/kvstore/marker.go")
	origMain, _ := os.ReadFile(mainGo)
	editFile(t, mainGo, "func main() {\n", "func main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"-healthcheck\" {\n\t\tos.Exit(1)\n\t}\n")
	editFile(t, mainGo, "import (\n", "import (\n\t\"os\"\n")
	editFile(t, markerGo, `"kvstore-v1"`, `"kvstore-broken"`)
	imgB := ugBuild(t, ctx, docker, ws, "kvstore")
	created = append(created, imgB)
	// C: healthy, another marker.
	if err := os.WriteFile(mainGo, origMain, 0o644); err != nil {
		t.Fatal(err)
	}
	editFile(t, markerGo, `"kvstore-broken"`, `"kvstore-v3"`)
	imgC := ugBuild(t, ctx, docker, ws, "kvstore")
	created = append(created, imgC)
	if imgA == imgB || imgB == imgC || imgA == imgC {
		t.Fatalf("images not distinct: %s %s %s", imgA, imgB, imgC)
	}
	tag := func(ref string) string { return ref[strings.LastIndex(ref, ":")+1:] }

	// The list: every image, the running one marked.
	r = mustRun(t, ctx, "-w", ws, "-p", project, "update", "kvstore", "--list")
	for _, ref := range []string{imgA, imgB, imgC} {
		if !strings.Contains(r.Out, tag(ref)) {
			t.Errorf("update --list does not show %s:\n%s", tag(ref), r.Out)
		}
	}
	if !regexp.MustCompile(`(?m)^\d+\s+` + tag(imgA) + `\s.*<- running`).MatchString(r.Out) {
		t.Errorf("update --list does not mark %s as running:\n%s", tag(imgA), r.Out)
	}
	if !regexp.MustCompile(`(?m)^\d+\s+`+tag(imgA)+`\s.*\s`+rev+`\s`).MatchString(r.Out) ||
		!regexp.MustCompile(`(?m)^\d+\s+`+tag(imgB)+`\s.*\s`+rev+`-dirty\s`).MatchString(r.Out) {
		t.Errorf("update --list does not show the source revisions %s (A) and %s-dirty (B):\n%s", rev, rev, r.Out)
	}
	if n := len(regexp.MustCompile(`(?m)^\d+\s+[0-9a-f]{12}\s`).FindAllString(r.Out, -1)); n != 3 {
		t.Errorf("update --list shows %d images, want this workspace's 3:\n%s", n, r.Out)
	}
	// Without a terminal, no --to is bad input.
	if r := runCLI(t, ctx, "-w", ws, "-p", project, "update", "kvstore"); r.Code != ExitBadInput || !strings.Contains(r.Err, "--to") {
		t.Errorf("update without --to and without a terminal: exit %d %s", r.Code, r.Err)
	}

	// Poll the service during the update (its address changes on recreate: daemon-chosen).
	var ok, failed atomic.Int64
	stopPoll := make(chan struct{})
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	go func() {
		defer pollWG.Done()
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(200 * time.Millisecond):
			}
			ctrs, err := docker.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
				filters.Arg("label", labels.ComposeProject+"="+project), filters.Arg("label", "com.docker.compose.service=kvstore"))})
			served := false
			if err == nil && len(ctrs) == 1 {
				for _, p := range ctrs[0].Ports {
					if p.PublicPort != 0 && !strings.Contains(p.IP, ":") {
						if code, _, err := skGet(fmt.Sprintf("http://127.0.0.1:%d/", p.PublicPort)); err == nil && code == 200 {
							served = true
						}
						break
					}
				}
			}
			if served {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}()
	r = runCLI(t, ctx, "-w", ws, "-p", project, "update", "kvstore", "--to", tag(imgB), "--timeout", "2m")
	close(stopPoll)
	pollWG.Wait()
	t.Logf("GET / during the failed update: %d answered, %d not (recreate gaps)", ok.Load(), failed.Load())
	if r.Code != ExitFailure || !strings.Contains(r.Err, "rolled back") || !strings.Contains(r.Err, "rolling back to "+imgA) {
		t.Fatalf("update to the unhealthy image: exit %d, want 1 with a roll-back message\n%s", r.Code, r.Err)
	}
	img, addr := ugServiceState(t, ctx, ws, project, "kvstore", "7700")
	if img != imgA {
		t.Errorf("after the roll-back kvstore runs %s, want %s", img, imgA)
	}
	if m := ugMarker(t, addr); m != "kvstore-v1" {
		t.Errorf("after the roll-back GET / marker = %q, want A's kvstore-v1", m)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:7700" {
		t.Errorf("after update kvstore is published on %s: the isolated stack must keep daemon-chosen ports", addr)
	}

	// A healthy image: switched to.
	r = runCLI(t, ctx, "-w", ws, "-p", project, "update", "kvstore", "--to", tag(imgC), "--timeout", "2m")
	if r.Code != 0 || !strings.Contains(r.Err, "now running "+imgC) {
		t.Fatalf("update to C: exit %d\n%s", r.Code, r.Err)
	}
	img, addr = ugServiceState(t, ctx, ws, project, "kvstore", "7700")
	if img != imgC || ugMarker(t, addr) != "kvstore-v3" {
		t.Errorf("after update to C: image %s marker %q", img, ugMarker(t, addr))
	}

	// The interactive pick: the number of A in the list, typed on a terminal.
	r = mustRun(t, ctx, "-w", ws, "-p", project, "update", "kvstore", "--list")
	m := regexp.MustCompile(`(?m)^(\d+)\s+` + tag(imgA) + `\s`).FindStringSubmatch(r.Out)
	if m == nil {
		t.Fatalf("A not in the list:\n%s", r.Out)
	}
	r = runCLIWith(t, ctx, m[1]+"\n", true, "-w", ws, "-p", project, "update", "kvstore", "--timeout", "2m")
	if r.Code != 0 || !strings.Contains(r.Err, "pick an image [1-3]") || !strings.Contains(r.Err, "now running "+imgA) {
		t.Fatalf("interactive pick %s: exit %d\n%s", m[1], r.Code, r.Err)
	}
	img, addr = ugServiceState(t, ctx, ws, project, "kvstore", "7700")
	if img != imgA || ugMarker(t, addr) != "kvstore-v1" {
		t.Errorf("after picking A: image %s", img)
	}
	// A wrong answer is bad input and changes nothing.
	r = runCLIWith(t, ctx, "9\n", true, "-w", ws, "-p", project, "update", "kvstore")
	if r.Code != ExitBadInput {
		t.Errorf("picking 9 of 3: exit %d %s", r.Code, r.Err)
	}
}

// gcImage builds a tiny image on clocal/busybox:local labelled like clocal's own builds.
func gcImage(t *testing.T, ctx context.Context, docker client.APIClient, ref string, labels map[string]string) string {
	t.Helper()
	df := "FROM " + testutil.BusyboxImage + "\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))})
	_, _ = tw.Write([]byte(df))
	_ = tw.Close()
	resp, err := docker.ImageBuild(ctx, &buf, build.ImageBuildOptions{Tags: []string{ref}, Labels: labels, Version: build.BuilderV1, Remove: true, ForceRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		t.Fatal(err)
	}
	ii, err := docker.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return ii.ID
}

// TestGCRemovesSupersededImages: images of a fake service, one run by a container, plus a
// stopped container and a dangling image of the same service, and an image of the same
// name without clocal's label. gc --dry-run lists the right ones and removes nothing;
// gc --keep 1 keeps the one in use and the newest other one and removes the rest.
func TestGCRemovesSupersededImages(t *testing.T) {
	docker := testutil.RequireDocker(t)
	testutil.EnsureBusybox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	svc := testutil.RandName("gc-test-")
	repo := "clocal/" + svc
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	var ctrIDs []string
	t.Cleanup(func() {
		ctx := context.Background()
		for _, id := range ctrIDs {
			_ = docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
		for _, id := range ids {
			_, _ = docker.ImageRemove(ctx, id, image.RemoveOptions{Force: true, PruneChildren: true})
		}
	})
	label := func(i int) map[string]string {
		return map[string]string{labels.Service: svc, "dev.clocal.hash": fmt.Sprint(i),
			labels.BuiltAt: base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)}
	}
	// v1 (oldest) … v5 (newest); v2 is in use by a running container.
	for i := 1; i <= 5; i++ {
		ids = append(ids, gcImage(t, ctx, docker, fmt.Sprintf("%s:v%d", repo, i), label(i)))
	}
	// A dangling image of the service: built under a tag that v6 then takes over.
	ids = append(ids, gcImage(t, ctx, docker, repo+":tmp", label(90)))
	ids = append(ids, gcImage(t, ctx, docker, repo+":tmp", label(6)))
	dangling := ids[5]
	// Same repository name, no clocal label: never touched.
	foreign := repo + ":foreign"
	ids = append(ids, gcImage(t, ctx, docker, foreign, map[string]string{labels.Test: "true"}))

	proj := testutil.RandName("clocaltest-gc-")
	run := func(ref, name string, start, wait bool) {
		l := map[string]string{labels.Service: svc, labels.ComposeProject: proj + name}
		if strings.HasSuffix(name, "-foreign") {
			l = map[string]string{labels.ComposeProject: proj + name}
		}
		c, err := docker.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"sleep", "600"}, Labels: l}, nil, nil, nil, proj+name)
		if err != nil {
			t.Fatal(err)
		}
		ctrIDs = append(ctrIDs, c.ID)
		if start {
			if err := docker.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if wait {
			_ = docker.ContainerKill(ctx, c.ID, "KILL")
			waitCh, errCh := docker.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
			select {
			case <-waitCh:
			case err := <-errCh:
				t.Fatal(err)
			}
		}
	}
	run(repo+":v2", "-running", true, false)   // in use
	run(repo+":v1", "-stopped", true, true)    // exited, its project has nothing running: removed
	run(repo+":v3", "-creating", false, false) // created just now: maybe an up in progress, kept
	run(repo+":v4", "-foreign", true, false)   // run by a container clocal did not make: in use

	// list is gc's text output without the reasons ("would remove image X (why)").
	list := func(r result) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.Out), "\n") {
			if l, _, _ = strings.Cut(l, " ("); l != "" {
				out = append(out, l)
			}
		}
		sort.Strings(out)
		return out
	}
	// --keep 1: keep v2 and v4 (in use) and v6 (:tmp, the newest other one). The exited
	// container goes, so v1 is no longer in use; v3's container is young and "created":
	// kept with its image.
	want := []string{
		"would remove container " + proj + "-stopped",
		"would remove image " + dangling,
		"would remove image " + repo + ":v1",
		"would remove image " + repo + ":v5",
	}
	sort.Strings(want)
	r := mustRun(t, ctx, "gc", "--service", svc, "--keep", "1", "--dry-run")
	if got := list(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gc --dry-run --keep 1:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same plan as JSON, with what is kept and why.
	var plan gcJSON
	if err := json.Unmarshal([]byte(mustRun(t, ctx, "gc", "--service", svc, "--keep", "1", "--dry-run", "--json").Out), &plan); err != nil {
		t.Fatal(err)
	}
	var fromJSON []string
	for _, it := range append(plan.Plan.Containers, plan.Plan.Images...) {
		fromJSON = append(fromJSON, "would remove "+it.Kind+" "+it.Name)
	}
	sort.Strings(fromJSON)
	if !plan.DryRun || strings.Join(fromJSON, "\n") != strings.Join(want, "\n") || len(plan.Plan.Kept) != 4 {
		t.Errorf("gc --dry-run --json: %+v", plan)
	}
	for i, id := range ids {
		if _, err := docker.ImageInspect(ctx, id); err != nil {
			t.Errorf("--dry-run removed image #%d: %v", i, err)
		}
	}
	if _, err := docker.ContainerInspect(ctx, proj+"-stopped"); err != nil {
		t.Errorf("--dry-run removed the stopped container: %v", err)
	}
	// Default keep (3) in a dry run: v6, v5 and v1 are the unused ones, all kept; only the
	// stopped container and the dangling image would go.
	r = mustRun(t, ctx, "gc", "--service", svc, "--dry-run")
	if got := strings.Join(list(r), "\n"); strings.Contains(got, ":v") || !strings.Contains(got, dangling) {
		t.Errorf("gc --dry-run (keep 3):\n%s", got)
	}

	r = mustRun(t, ctx, "gc", "--service", svc, "--keep", "1")
	for i, w := range want {
		want[i] = strings.Replace(w, "would remove", "removed", 1)
	}
	sort.Strings(want)
	if got := list(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("gc --keep 1:\n%s\nstderr: %s\nwant:\n%s", strings.Join(got, "\n"), r.Err, strings.Join(want, "\n"))
	}
	exists := func(ref string) bool { _, err := docker.ImageInspect(ctx, ref); return err == nil }
	for _, gone := range []string{repo + ":v1", repo + ":v5", dangling} {
		if exists(gone) {
			t.Errorf("%s still exists after gc --keep 1", gone)
		}
	}
	for _, kept := range []string{repo + ":v2", repo + ":v3", repo + ":v4", repo + ":tmp", foreign} {
		if !exists(kept) {
			t.Errorf("gc removed %s (in use, newest, or not clocal's)", kept)
		}
	}
	if _, err := docker.ContainerInspect(ctx, proj+"-running"); err != nil {
		t.Errorf("gc removed the running container: %v", err)
	}
	if _, err := docker.ContainerInspect(ctx, proj+"-stopped"); err == nil {
		t.Errorf("gc left the stopped container")
	}
	// A second run has nothing left to do with --keep 1.
	if r := mustRun(t, ctx, "gc", "--service", svc, "--keep", "1", "--dry-run"); strings.TrimSpace(r.Out) != "" {
		t.Errorf("second gc would still remove:\n%s", r.Out)
	}
}

// TestGCBuildCache: an image built with BuildKit and then removed leaves cache no image
// uses. gc only mentions it (it is not labelled, so not known to be clocal's) until
// --build-cache, which prunes it (--dry-run: says so, prunes nothing).
func TestGCBuildCache(t *testing.T) {
	docker := testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	nonce := testutil.RandName("cache-")
	testutil.WriteFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY x /x\n", "x": strings.Repeat(nonce, 4096)})
	b := &clocalbuild.Builder{Docker: docker, Backend: clocalbuild.BackendBuildKit}
	s := clocalbuild.Spec{Service: nonce, Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir}
	res, err := b.Ensure(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := docker.ImageRemove(ctx, res.Image, image.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	unused := func() int {
		du, err := docker.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.BuildCacheObject}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range du.BuildCache {
			if !r.InUse && !r.Shared {
				n++
			}
		}
		return n
	}
	if unused() == 0 {
		t.Fatal("no unused BuildKit cache after building and removing an image")
	}
	svc := testutil.RandName("gc-none-") // a service with nothing to gc: only the cache matters
	if r := mustRun(t, ctx, "gc", "--service", svc); !strings.Contains(r.Err, "BuildKit cache no image uses: ") || !strings.Contains(r.Err, "clocal gc --build-cache removes it") || strings.Contains(r.Out, "prune") {
		t.Errorf("gc without --build-cache:\nstdout: %s\nstderr: %s", r.Out, r.Err)
	}
	if r := mustRun(t, ctx, "gc", "--service", svc, "--build-cache", "--dry-run"); !strings.Contains(r.Out, "would prune BuildKit cache no image uses: ") {
		t.Errorf("gc --build-cache --dry-run:\nstdout: %s\nstderr: %s", r.Out, r.Err)
	}
	if unused() == 0 {
		t.Fatal("--dry-run pruned the cache")
	}
	r := mustRun(t, ctx, "gc", "--service", svc, "--build-cache")
	if m := regexp.MustCompile(`pruned BuildKit cache: \S+ in (\d+) records`).FindStringSubmatch(r.Out); m == nil || m[1] == "0" {
		t.Errorf("gc --build-cache:\nstdout: %s\nstderr: %s", r.Out, r.Err)
	}
}
