package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// variant builds a local image from base with a label (a new image ID), pushes it to reg as
// repoTag (the local tag of that reference is removed) and returns the registry reference
// and the image ID.
func variant(t *testing.T, ctx context.Context, docker *client.Client, reg *testutil.Registry, base, label, repoTag string) (ref, id string) {
	t.Helper()
	local := testutil.RandName("clocaltest/variant:")
	if err := testutil.BuildImage(ctx, docker, local, "FROM "+base+"\nLABEL "+label+"\n", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, local) })
	ii, err := docker.ImageInspect(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	ref = reg.Push(t, docker, local, repoTag)
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, ref) })
	return ref, ii.ID
}

// settled returns the one running container of service and the ID of its image, or ""
// while the service has none or several (a replacement under way).
func settled(t *testing.T, docker *client.Client, project, service string) (ctr, img string) {
	t.Helper()
	var found []string
	for _, c := range projectContainers(t, docker, project) {
		if c.Labels["com.docker.compose.service"] == service {
			found = append(found, c.ID)
			ctr, img = c.ID, c.ImageID
			if c.State != "running" {
				return "", ""
			}
		}
	}
	if len(found) != 1 {
		return "", ""
	}
	return ctr, img
}

// containerImage returns the container of service and the ID of the image it runs.
func containerImage(t *testing.T, docker *client.Client, project, service string) (ctr, img string) {
	t.Helper()
	for _, c := range projectContainers(t, docker, project) {
		if c.Labels["com.docker.compose.service"] == service {
			return c.ID, c.ImageID
		}
	}
	t.Fatalf("no container of %s", service)
	return "", ""
}

// TestPullPolicyWatchAndPins, on a real registry:
//   - a production tag that moved in the registry: `up` (--pull missing) keeps the local
//     copy; `up --pull always` pulls it and replaces only that service's container;
//   - a service pinned by `update --to` keeps its image through `watch --pull always`,
//     through a reload of its own job file (its container is recreated on the pinned
//     image) and ps says it is pinned;
//   - under `watch`, a job file naming a tag that is not here is pulled and its service
//     replaced;
//   - `watch --pull never` with a missing image fails in one line naming the image and the
//     registry, and changes nothing.
func TestPullPolicyWatchAndPins(t *testing.T) {
	docker := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	root, server, project := registryWorkspace(t, docker, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cli := func(args ...string) result {
		return runCLI(t, ctx, append([]string{"-w", root, "-p", project}, args...)...)
	}
	up := func(extra ...string) result {
		t.Helper()
		r := cli(append([]string{"up", "app", "--ephemeral-ports", "--timeout", "2m"}, extra...)...)
		if r.Code != 0 {
			t.Fatalf("up %v: exit %d\n%s", extra, r.Code, r.Err)
		}
		return r
	}
	db1, cache1 := reg.Ref("third/db:1"), reg.Ref("third/cache:1")
	db2, db2ID := variant(t, ctx, docker, reg, server, "version=2", "third/db:2")
	cache2, cache2ID := variant(t, ctx, docker, reg, server, "cache=2", "third/cache:2")
	cache3, _ := variant(t, ctx, docker, reg, server, "cache=3", "third/cache:3")
	up()
	dbCtr, oldID := containerImage(t, docker, project, "db")
	appCtr, _ := containerImage(t, docker, project, "app")
	cacheCtr, _ := containerImage(t, docker, project, "cache")

	// db:1 moves in the registry; the local tag stays on the old image.
	movedSrc := testutil.RandName("clocaltest/moved:")
	if err := testutil.BuildImage(ctx, docker, movedSrc, "FROM "+server+"\nLABEL moved=1\n", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, movedSrc) })
	moved, err := docker.ImageInspect(ctx, movedSrc)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.PushImage(ctx, docker, movedSrc, db1); err != nil {
		t.Fatal(err)
	}
	if err := docker.ImageTag(ctx, oldID, db1); err != nil {
		t.Fatal(err)
	}
	if r := up(); strings.Contains(r.Err, "pulling "+db1) {
		t.Fatalf("--pull missing pulled a present image:\n%s", r.Err)
	}
	if c, img := containerImage(t, docker, project, "db"); c != dbCtr || img != oldID {
		t.Fatalf("--pull missing replaced db (%s on %s)", c, img)
	}
	r := up("--pull", "always")
	t.Logf("up --pull always:\n%s", r.Err)
	if !strings.Contains(r.Err, "pulling "+db1+" (for db)") {
		t.Fatalf("--pull always did not pull %s:\n%s", db1, r.Err)
	}
	c, img := containerImage(t, docker, project, "db")
	if c == dbCtr || img != moved.ID {
		t.Fatalf("--pull always: db container %s runs %s, want a new container on %s", c, img, moved.ID)
	}
	if a, _ := containerImage(t, docker, project, "app"); a != appCtr {
		t.Errorf("--pull always replaced app (its base did not move)")
	}
	if k, _ := containerImage(t, docker, project, "cache"); k != cacheCtr {
		t.Errorf("--pull always replaced cache (its tag did not move)")
	}

	// Pinned to db:2.
	if r := cli("update", "db", "--to", "2"); r.Code != 0 {
		t.Fatalf("update --to 2: exit %d\n%s", r.Code, r.Err)
	}
	dbCtr, img = containerImage(t, docker, project, "db")
	if img != db2ID {
		t.Fatalf("after update db runs %s, want %s", img, db2ID)
	}

	// watch --pull always keeps the pin.
	w := startClocal(t, nil, "-w", root, "-p", project, "watch", "--pull", "always", "--json")
	w.waitOutput(`"kind":"watching"`, 5*time.Minute)
	if c, img := containerImage(t, docker, project, "db"); c != dbCtr || img != db2ID {
		t.Fatalf("watch --pull always changed the pinned db: %s on %s", c, img)
	}
	// A job file names a tag that is not here: pulled, the service replaced.
	editFile(t, filepath.Join(root, "jobs", "cache-host.job"), cache1, cache2)
	waitFor(t, 3*time.Minute, "cache replaced on "+cache2, func() bool {
		_, img := settled(t, docker, project, "cache")
		return img == cache2ID
	})
	w.waitOutput(`"kind":"reloaded"`, time.Minute)
	// db's own job file changes: its container is recreated, on the pinned image.
	editFile(t, filepath.Join(root, "services", "db", "db.job"), `value: "db"`, `value: "db-renamed"`)
	waitFor(t, 3*time.Minute, "db recreated", func() bool {
		c, _ := settled(t, docker, project, "db")
		return c != "" && c != dbCtr
	})
	waitFor(t, time.Minute, "the second reload reported", func() bool {
		return strings.Count(w.out.String(), `"kind":"reloaded"`) >= 2
	})
	if _, img := settled(t, docker, project, "db"); img != db2ID {
		t.Fatalf("a reload under watch dropped the pin: db runs %s, want %s\n%s", img, db2ID, w.out.String())
	}
	var rows []psJSON
	if err := json.Unmarshal([]byte(cli("ps", "--json").Out), &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Service == "db" && (row.Pinned != db2 || row.Image != db2) {
			t.Fatalf("ps after the reload: %+v", row)
		}
	}
	if strings.Contains(w.out.String(), `"kind":"error"`) {
		t.Errorf("watch reported an error:\n%s", w.out.String())
	}
	_ = w.cmd.Process.Signal(os.Interrupt)
	if r := w.wait(time.Minute); r.Code != ExitInterrupted {
		t.Errorf("watch exit %d after Ctrl-C, want 130", r.Code)
	}

	// A registry tag that never becomes healthy: update pulls it, waits, rolls back to the
	// pinned image, and the pin stays.
	variant(t, ctx, docker, reg, server, "bad=1\nENV UNHEALTHY=1", "third/db:bad")
	r = cli("update", "db", "--to", "bad", "--timeout", "10s")
	t.Logf("update --to bad:\n%s", r.Err)
	if r.Code != 1 || !strings.Contains(r.Err, "rolled back") {
		t.Fatalf("update to an unhealthy tag: exit %d\n%s", r.Code, r.Err)
	}
	if _, img := settled(t, docker, project, "db"); img != db2ID {
		t.Fatalf("after the roll back db runs %s, want %s", img, db2ID)
	}
	if err := json.Unmarshal([]byte(cli("ps", "--json").Out), &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Service == "db" && row.Pinned != db2 {
			t.Fatalf("after the roll back db is pinned to %q, want %s", row.Pinned, db2)
		}
	}

	// watch --pull never with an image that is not here: one line, nothing changed.
	before := ctrIDs(t, docker, project)
	editFile(t, filepath.Join(root, "jobs", "cache-host.job"), cache2, cache3)
	r = runClocal(t, 2*time.Minute, nil, "-w", root, "-p", project, "watch", "--pull", "never")
	line := errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, cache3+" (cache)") || !strings.Contains(line, "registry "+reg.Host) || !strings.Contains(line, "--pull never") {
		t.Fatalf("watch --pull never: exit %d, %q", r.Code, line)
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("watch --pull never changed containers: %v -> %v", before, after)
	}
}
