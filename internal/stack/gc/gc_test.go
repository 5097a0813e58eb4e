package gc_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"

	"github.com/clocal-dev/clocal/internal/dockerfake"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/gc"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func img(id, svc string, builtMinutesAgo int, tags ...string) image.Summary {
	return image.Summary{ID: id, RepoTags: tags, Created: now.Add(-time.Hour).Unix(), Labels: map[string]string{
		labels.Service: svc, labels.BuiltAt: now.Add(-time.Duration(builtMinutesAgo) * time.Minute).Format(time.RFC3339),
	}}
}

func ctr(name, project, svc, state, imageID string, createdAgo time.Duration, workingDir string) container.Summary {
	l := map[string]string{labels.ComposeProject: project, labels.ComposeWorkingDir: workingDir}
	if svc != "" {
		l[labels.Service] = svc
	}
	return container.Summary{ID: "id-" + name, Names: []string{"/" + name}, State: state, ImageID: imageID, Created: now.Add(-createdAgo).Unix(), Labels: l}
}

func names(items []gc.Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

// inventory: service a has five images (a1 newest … a5 oldest), a3 runs; service b has
// two, none used; a dangling leftover; a foreign container runs a clocal image.
func inventory() gc.Inventory {
	return gc.Inventory{
		Images: []image.Summary{
			img("sha-a1", "a", 1, "clocal/a:1"),
			img("sha-a2", "a", 2, "clocal/a:2"),
			img("sha-a3", "a", 3, "clocal/a:3"),
			img("sha-a4", "a", 4, "clocal/a:4", "clocal/a:four"),
			img("sha-a5", "a", 5, "clocal/a:5"),
			img("sha-b1", "b", 1, "clocal/b:1"),
			img("sha-b2", "b", 2, "clocal/b:2"),
			img("sha-dangling", "a", 9),
			img("sha-dangling-used", "b", 9, "<none>:<none>"),
		},
		Containers: []container.Summary{
			ctr("live-a-1", "live", "a", "running", "sha-a3", time.Hour, ""),
			ctr("live-b-1", "live", "b", "exited", "sha-b2", time.Hour, ""), // stopped on purpose: its stack runs
			ctr("dead-a-1", "dead", "a", "exited", "sha-a5", time.Hour, ""),
			ctr("young-a-1", "young", "a", "created", "sha-a4", time.Minute, ""), // an up in progress
			ctr("old-b-1", "old", "b", "created", "sha-b1", time.Hour, ""),
			ctr("foreign-1", "foreign", "", "exited", "sha-dangling-used", time.Hour, ""),
		},
		BuildCache: []*build.CacheRecord{{ID: "c1", Size: 100}, {ID: "c2", Size: 50, InUse: true}, {ID: "c3", Size: 7}},
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name               string
		policy             gc.Policy
		containers, images []string
		kept               []string
	}{
		{
			name:   "keep 1",
			policy: gc.Policy{Keep: 1, MinAge: 10 * time.Minute, Now: now},
			// dead-a-1 goes, so a5 is no longer in use; young-a-1 keeps a4 (and both its
			// tags); b2 is used by the stopped container of a running stack, b1 is b's
			// newest unused one.
			containers: []string{"dead-a-1", "old-b-1"},
			images:     []string{"clocal/a:2", "clocal/a:5", "sha-dangling"},
			kept:       []string{"clocal/a:1", "clocal/a:3", "clocal/a:4", "clocal/a:four", "clocal/b:1", "clocal/b:2"},
		},
		{
			name:       "keep 3",
			policy:     gc.Policy{Keep: 3, MinAge: 10 * time.Minute, Now: now},
			containers: []string{"dead-a-1", "old-b-1"},
			images:     []string{"sha-dangling"},
			kept:       []string{"clocal/a:1", "clocal/a:2", "clocal/a:3", "clocal/a:4", "clocal/a:5", "clocal/a:four", "clocal/b:1", "clocal/b:2"},
		},
		{
			name:       "keep 0, only b",
			policy:     gc.Policy{Keep: 0, Services: []string{"b"}, MinAge: 10 * time.Minute, Now: now},
			containers: []string{"old-b-1"},
			images:     []string{"clocal/b:1"},
			kept:       []string{"clocal/b:2"},
		},
		{
			name:       "keep 0, only b, b:1 pinned by clocal update",
			policy:     gc.Policy{Keep: 0, Services: []string{"b"}, MinAge: 10 * time.Minute, Now: now, Pinned: map[string]bool{"clocal/b:1": true}},
			containers: []string{"old-b-1"},
			images:     []string{},
			kept:       []string{"clocal/b:1", "clocal/b:2"},
		},
		{
			name:       "min age longer than the created container",
			policy:     gc.Policy{Keep: 0, Services: []string{"b"}, MinAge: 2 * time.Hour, Now: now},
			containers: []string{},
			images:     []string{},
			kept:       []string{"clocal/b:1", "clocal/b:2"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := gc.Decide(inventory(), c.policy)
			if got := names(p.Containers); !reflect.DeepEqual(got, c.containers) {
				t.Errorf("containers %v, want %v", got, c.containers)
			}
			if got := names(p.Images); !reflect.DeepEqual(got, c.images) {
				t.Errorf("images %v, want %v", got, c.images)
			}
			if got := names(p.Kept); !reflect.DeepEqual(got, c.kept) {
				t.Errorf("kept %v, want %v", got, c.kept)
			}
			for _, it := range append(append(p.Containers, p.Images...), p.Kept...) {
				if it.Reason == "" {
					t.Errorf("%s %s has no reason", it.Kind, it.Name)
				}
			}
			if p.BuildCache != (gc.CacheSummary{Records: 2, Bytes: 107}) {
				t.Errorf("build cache %+v, want 2 records, 107 bytes", p.BuildCache)
			}
		})
	}
}

func TestApplyRemovesThePlanAndPrunesCacheOnlyWhenAsked(t *testing.T) {
	inv := inventory()
	fake := &dockerfake.Client{Containers: inv.Containers, Images: inv.Images, BuildCache: inv.BuildCache}
	ctx := context.Background()
	got, err := gc.Collect(ctx, fake, true)
	if err != nil {
		t.Fatal(err)
	}
	plan := gc.Decide(got, gc.Policy{Keep: 1, MinAge: 10 * time.Minute, Now: now})
	res := gc.Apply(ctx, fake, plan, gc.ApplyOptions{})
	want := []string{"container dead-a-1", "container old-b-1", "image clocal/a:2", "image clocal/a:5", "image sha-dangling"}
	if !reflect.DeepEqual(fake.Removals(), want) {
		t.Fatalf("removed %v, want %v", fake.Removals(), want)
	}
	if len(res.Removed) != len(want) || len(res.Failed)+len(res.Skipped) != 0 || res.PrunedCache != nil {
		t.Fatalf("result %+v", res)
	}
	// Nothing left to do; the cache goes only when asked.
	got, _ = gc.Collect(ctx, fake, true)
	plan = gc.Decide(got, gc.Policy{Keep: 1, MinAge: 10 * time.Minute, Now: now})
	if !plan.Empty() {
		t.Fatalf("second plan not empty: %+v", plan)
	}
	res = gc.Apply(ctx, fake, plan, gc.ApplyOptions{BuildCache: true})
	if res.PrunedCache == nil || *res.PrunedCache != (gc.CacheSummary{Records: 2, Bytes: 107}) {
		t.Fatalf("pruned cache %+v", res.PrunedCache)
	}
}

// TestApplySkipsStacksAnotherClocalHolds: a stack whose project lock another clocal process
// holds (an up in progress, a watch replacing a service) keeps its containers and the
// images they run; the others are cleaned up.
func TestApplySkipsStacksAnotherClocalHolds(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "clocal.yaml"), []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := &dockerfake.Client{
		Containers: []container.Summary{
			ctr("busy-a-1", "busy", "a", "exited", "sha-a1", time.Hour, ws),
			ctr("idle-a-1", "idle", "a", "exited", "sha-a2", time.Hour, ws),
		},
		Images: []image.Summary{img("sha-a1", "a", 1, "clocal/a:1"), img("sha-a2", "a", 2, "clocal/a:2")},
	}
	ctx := context.Background()
	unlock, err := stack.LockProjectAt(ctx, ws, "busy", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	inv, _ := gc.Collect(ctx, fake, false)
	plan := gc.Decide(inv, gc.Policy{Keep: 0, Now: now})
	if got := names(plan.Containers); !reflect.DeepEqual(got, []string{"busy-a-1", "idle-a-1"}) {
		t.Fatalf("plan containers %v", got)
	}
	res := gc.Apply(ctx, fake, plan, gc.ApplyOptions{})
	if want := []string{"container idle-a-1", "image clocal/a:2"}; !reflect.DeepEqual(fake.Removals(), want) {
		t.Fatalf("removed %v, want %v", fake.Removals(), want)
	}
	if len(res.Skipped) != 2 || res.Skipped[0].Name != "busy-a-1" || res.Skipped[1].Name != "clocal/a:1" {
		t.Fatalf("skipped %+v", res.Skipped)
	}
	// The idle stack had no state folder in the workspace: gc left none behind.
	if _, err := os.Stat(stack.ProjectStateDir(ws, "idle")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("gc left %s: %v", stack.ProjectStateDir(ws, "idle"), err)
	}
}

func TestApplyReportsFailures(t *testing.T) {
	fake := &dockerfake.Client{
		Containers: []container.Summary{ctr("x-a-1", "x", "a", "exited", "sha-a1", time.Hour, "")},
		Images:     []image.Summary{img("sha-a1", "a", 1, "clocal/a:1"), img("sha-a2", "a", 2, "clocal/a:2")},
		Fail:       map[string]error{"container x-a-1": errors.New("boom"), "image clocal/a:2": errors.New("bang")},
	}
	ctx := context.Background()
	inv, _ := gc.Collect(ctx, fake, false)
	res := gc.Apply(ctx, fake, gc.Decide(inv, gc.Policy{Keep: 0, Now: now}), gc.ApplyOptions{})
	if len(res.Removed) != 0 || len(res.Failed) != 2 || len(res.Skipped) != 1 {
		t.Fatalf("result %+v", res)
	}
	if res.Failed[0].Error != "boom" || res.Failed[1].Error != "bang" || res.Skipped[0].Name != "clocal/a:1" {
		t.Fatalf("result %+v", res)
	}
}
