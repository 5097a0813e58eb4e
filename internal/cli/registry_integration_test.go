package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// registryWorkspace is a workspace whose images come from a real registry: db is a job and a
// service file only (it runs its production image, REG/third/db:1), cache a job under
// jobs_root that no service folder claims (REG/third/cache:1), app is built FROM a registry
// base (REG/base/server:1) and depends on both. The images are pushed to reg and removed
// locally (their layers stay, under the local test image). It returns the workspace, the
// local testserver image, and the stack's project name.
func registryWorkspace(t *testing.T, docker *client.Client, reg *testutil.Registry) (root, server, project string) {
	t.Helper()
	server = testutil.TestServerImage(t)
	db := reg.Push(t, docker, server, "third/db:1")
	cache := reg.Push(t, docker, server, "third/cache:1")
	base := reg.Push(t, docker, server, "base/server:1")
	t.Cleanup(func() {
		for _, ref := range []string{db, cache, base} {
			_ = testutil.RemoveImage(context.Background(), docker, ref)
		}
	})
	health := "healthcheck: {test: [CMD, /server, -healthcheck], interval: 1s, timeout: 5s, retries: 60}\n"
	root = testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":               "name: regtest\njobs_root: jobs\n",
		"jobs/cache-host.job":       `job { name: "cache-1" image: "` + cache + `" run_on_host: "cache-host" envs { key: "port" value: "8080" } envs { key: "NAME" value: "cache" } }` + "\n",
		"services/db/db.job":        `job { name: "db-1" image: "` + db + `" run_on_host: "db-host" envs { key: "port" value: "8080" } envs { key: "NAME" value: "db" } }` + "\n",
		"services/db/service.yaml":  health,
		"services/app/app.job":      `job { name: "app-1" image: "app:prod" run_on_host: "app-host" envs { key: "port" value: "8080" } envs { key: "NAME" value: "app" } envs { key: "db_addr" value: "db-host:8080" } envs { key: "cache_addr" value: "cache-host:8080" } }` + "\n",
		"services/app/Dockerfile":   "FROM " + base + "\nLABEL app=1\n",
		"services/app/service.yaml": health,
	})
	project = testProject(t)
	cleanupStack(t, docker, root, project)
	return root, server, project
}

// errLine is the one line of a failed command's error ("clocal: ..."), failing the test when
// the error output has more.
func errLine(t *testing.T, r result) string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Err), "\n") {
		if strings.HasPrefix(l, "clocal: ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || strings.Count(r.Err, "clocal: ") != 1 {
		t.Fatalf("want exactly one error line, got:\n%s", r.Err)
	}
	return lines[0]
}

func ctrIDs(t *testing.T, docker *client.Client, project string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range projectContainers(t, docker, project) {
		out[c.Labels["com.docker.compose.service"]] = c.ID + " " + c.State
	}
	return out
}

// TestRegistryImages: a registry-only service comes up, a build FROM a registry base
// builds, --pull never with missing images fails in one line and creates nothing, a moved
// base tag rebuilds (and an unchanged one does not), an unreachable registry leaves the
// running stack untouched.
func TestRegistryImages(t *testing.T) {
	docker := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	root, server, project := registryWorkspace(t, docker, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	up := func(ctx context.Context, extra ...string) result {
		return runCLI(t, ctx, append([]string{"-w", root, "-p", project, "up", "app", "--ephemeral-ports", "--timeout", "2m"}, extra...)...)
	}

	// --pull never: the images are missing; one line, nothing created.
	r := up(ctx, "--pull", "never")
	line := errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, reg.Host+"/") || !strings.Contains(line, "registry "+reg.Host) || !strings.Contains(line, "--pull never") {
		t.Fatalf("up --pull never: exit %d, %q", r.Code, line)
	}
	if ctrs, nets, vols := leftovers(t, docker, project); len(ctrs)+len(nets)+len(vols) > 0 {
		t.Fatalf("--pull never created %v %v %v", ctrs, nets, vols)
	}

	// Default (missing): both images pulled, app built on its base, both healthy.
	r = up(ctx, "--json")
	if r.Code != 0 {
		t.Fatalf("up: exit %d\n%s", r.Code, r.Err)
	}
	for _, want := range []string{"pulling " + reg.Ref("third/db:1") + " (for db)", "pulling " + reg.Ref("third/cache:1") + " (for cache)", "pulling " + reg.Ref("base/server:1") + " (for base of app)"} {
		if !strings.Contains(r.Err, want) {
			t.Errorf("up output lacks %q:\n%s", want, r.Err)
		}
	}
	var res struct {
		Services map[string]struct {
			URL   string `json:"url"`
			Image string `json:"image"`
			Built bool   `json:"built"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.Out), &res); err != nil {
		t.Fatalf("up --json: %v\n%s", err, r.Out)
	}
	if got := httpGet(t, res.Services["db"].URL+"/"); got != "hello from db" {
		t.Fatalf("db answers %q", got)
	}
	if got := httpGet(t, res.Services["cache"].URL+"/"); got != "hello from cache" {
		t.Fatalf("cache answers %q", got)
	}
	if got := httpGet(t, res.Services["app"].URL+"/"); got != "hello from app" {
		t.Fatalf("app answers %q", got)
	}
	firstApp := res.Services["app"].Image

	t.Logf("first up:\n%s", r.Err)
	// Unchanged: nothing pulled, nothing built, nothing recreated.
	before := ctrIDs(t, docker, project)
	r = up(ctx, "--json")
	if r.Code != 0 || strings.Contains(r.Err, "pulling") || strings.Contains(r.Err, "building image") {
		t.Fatalf("second up pulled or built (exit %d):\n%s", r.Code, r.Err)
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("second up changed containers: %v -> %v", before, after)
	}

	// The base tag moves in the registry: app is rebuilt on it.
	moved := testutil.RandName("clocaltest/moved:")
	if err := testutil.BuildImage(ctx, docker, moved, "FROM "+server+"\nLABEL moved=1\n", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, moved) })
	reg.Push(t, docker, moved, "base/server:1")
	r = up(ctx, "--json")
	if r.Code != 0 {
		t.Fatalf("up after the base moved: exit %d\n%s", r.Code, r.Err)
	}
	if err := json.Unmarshal([]byte(r.Out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Services["app"].Built || res.Services["app"].Image == firstApp {
		t.Fatalf("moved base tag: app built %v, image %s (was %s)\n%s", res.Services["app"].Built, res.Services["app"].Image, firstApp, r.Err)
	}

	// A Ctrl-C or a failure half-way through a pull: TestPullFaults.
	jobFile := filepath.Join(root, "services", "db", "db.job")
	before = ctrIDs(t, docker, project)

	// The registry is gone: one line naming image and registry, the stack untouched.
	reg.Stop()
	editFile(t, jobFile, reg.Ref("third/db:1"), reg.Ref("third/db:2"))
	r = up(ctx)
	t.Logf("unreachable:\n%s", r.Err)
	line = errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, reg.Ref("third/db:2")) || !strings.Contains(line, "registry "+reg.Host) || !strings.Contains(line, "unreachable") {
		t.Fatalf("unreachable registry: exit %d, %q", r.Code, line)
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("a failed pull changed containers: %v -> %v", before, after)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}

// TestUpdateRegistryTags: update lists the registry's tags of a service's production image
// (--list --json), switches to one (--to, pulled from the registry), and the choice is
// pinned: the next up and a restart keep it, ps and inspect show it, --latest unpins.
func TestUpdateRegistryTags(t *testing.T) {
	docker := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	root, server, project := registryWorkspace(t, docker, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Tag 2 of db: built after tag 1, so newer.
	v2 := testutil.RandName("clocaltest/db-v2:")
	if err := testutil.BuildImage(ctx, docker, v2, "FROM "+server+"\nLABEL version=2\n", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, v2) })
	db2 := reg.Push(t, docker, v2, "third/db:2")
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, db2) })
	db1 := reg.Ref("third/db:1")
	cli := func(args ...string) result {
		return runCLI(t, ctx, append([]string{"-w", root, "-p", project}, args...)...)
	}
	up := func() result {
		r := cli("up", "app", "--ephemeral-ports", "--timeout", "2m")
		if r.Code != 0 {
			t.Fatalf("up: exit %d\n%s", r.Code, r.Err)
		}
		return r
	}
	psDB := func() psJSON {
		t.Helper()
		var rows []psJSON
		if err := json.Unmarshal([]byte(mustRun(t, ctx, "-w", root, "-p", project, "ps", "--json").Out), &rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Service == "db" {
				return r
			}
		}
		t.Fatal("no db container")
		return psJSON{}
	}
	up()

	r := cli("update", "db", "--list", "--json")
	var l struct {
		Production string `json:"production_image"`
		Images     []struct {
			Ref, Tag, Origin string
			Created          time.Time `json:"built_at"`
			Running          bool
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(r.Out), &l); err != nil || r.Code != 0 {
		t.Fatalf("update --list --json: exit %d, %v\n%s\n%s", r.Code, err, r.Out, r.Err)
	}
	var tags []string
	for _, im := range l.Images {
		if im.Origin == "registry" {
			tags = append(tags, im.Tag)
			if im.Created.IsZero() || (im.Ref == db1) != im.Running {
				t.Errorf("registry image %+v: no date, or running wrong", im)
			}
		}
	}
	if strings.Join(tags, ",") != "2,1" || l.Production != db1 {
		t.Fatalf("registry tags newest first = %v (production %s), want [2 1]\n%s", tags, l.Production, r.Out)
	}

	r = cli("update", "db", "--to", "2")
	if r.Code != 0 || !strings.Contains(r.Err, "now running "+db2) {
		t.Fatalf("update --to 2: exit %d\n%s", r.Code, r.Err)
	}
	if p := psDB(); p.Image != db2 || p.Pinned != db2 {
		t.Fatalf("after update: ps %+v", p)
	}
	before := ctrIDs(t, docker, project)["db"]

	// The next up keeps the pin (and recreates nothing); so does a restart.
	if r := up(); !strings.Contains(r.Err, "db: pinned to "+db2) {
		t.Errorf("up does not say db is pinned:\n%s", r.Err)
	}
	if after := ctrIDs(t, docker, project)["db"]; after != before {
		t.Errorf("up recreated the pinned db: %s -> %s", before, after)
	}
	if r := cli("restart", "db"); r.Code != 0 {
		t.Fatalf("restart: %d %s", r.Code, r.Err)
	}
	if p := psDB(); p.Image != db2 {
		t.Fatalf("after restart db runs %s", p.Image)
	}
	var in struct {
		Pinned *struct{ Image string } `json:"pinned"`
		Config *struct{ Image string } `json:"config"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, ctx, "-w", root, "-p", project, "inspect", "db").Out), &in); err != nil || in.Pinned == nil || in.Pinned.Image != db2 || in.Config.Image != db2 {
		t.Fatalf("inspect db: pinned %+v config %+v (%v)", in.Pinned, in.Config, err)
	}

	// --latest: the production image again, unpinned.
	if r := cli("update", "db", "--latest"); r.Code != 0 {
		t.Fatalf("update --latest: exit %d\n%s", r.Code, r.Err)
	}
	if p := psDB(); p.Image != db1 || p.Pinned != "" {
		t.Fatalf("after --latest: ps %+v", p)
	}
}
