package prune_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/dockerfake"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
	"github.com/clocal-dev/clocal/internal/stack/prune"
)

// fakeEngine lists fixed projects and records Down calls.
type fakeEngine struct {
	mu       sync.Mutex
	projects []engine.ProjectSummary
	downs    []string
	volumes  map[string]bool
	fail     map[string]error
}

func (f *fakeEngine) Projects(context.Context) ([]engine.ProjectSummary, error) {
	return f.projects, nil
}

func (f *fakeEngine) Down(_ context.Context, project string, o engine.DownOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[project]; err != nil {
		return err
	}
	f.downs = append(f.downs, project)
	if f.volumes == nil {
		f.volumes = map[string]bool{}
	}
	f.volumes[project] = o.Volumes
	return nil
}

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ctr(project, svc, state string, age time.Duration, extra map[string]string) container.Summary {
	l := map[string]string{labels.ComposeProject: project}
	if svc != "" {
		l[labels.Service] = svc
	}
	for k, v := range extra {
		l[k] = v
	}
	return container.Summary{ID: project + "-" + svc, Names: []string{"/" + project + "-" + svc + "-1"}, State: state, Created: now.Add(-age).Unix(), Labels: l}
}

// daemon: a killed test run (owner 200 gone), a live test run (owner 100), a running
// stack, a stopped stack untouched for an hour, one stopped a minute ago (maybe an up in
// progress), someone else's stopped compose project, a clocal stack of which only its data
// volume is left, and two ups in progress: one that has created its network and no
// container yet, one that re-runs a killed run's project (its containers created next to
// the killed run's).
func daemon(ws string) (*fakeEngine, *dockerfake.Client) {
	owner := func(pid string) map[string]string {
		return map[string]string{labels.OwnerPID: pid, labels.OwnerHost: "box", labels.ComposeWorkingDir: ws}
	}
	d := &dockerfake.Client{
		Containers: []container.Summary{
			ctr("killed", "kv", "running", 0, owner("200")),
			ctr("testing", "kv", "created", 0, owner("100")),
			ctr("running", "kv", "running", time.Hour, nil),
			ctr("stopped", "kv", "exited", time.Hour, map[string]string{labels.ComposeWorkingDir: ws}),
			ctr("fresh", "kv", "created", time.Minute, nil),
			ctr("foreign", "", "exited", time.Hour, nil),
			ctr("rerun", "kv", "exited", time.Hour, owner("200")),
			ctr("rerun", "web", "created", 0, owner("100")),
		},
		Volumes: []*volume.Volume{{Name: "leftover_data", Labels: map[string]string{labels.ComposeProject: "leftover", labels.HostPath: "/data"}}},
		Networks: []network.Summary{
			{Name: "stopped_clocal", Created: now.Add(-time.Hour), Labels: map[string]string{labels.ComposeProject: "stopped", labels.ComposeNetwork: "clocal"}},
			{Name: "starting_clocal", Created: now.Add(-2 * time.Second), Labels: map[string]string{labels.ComposeProject: "starting", labels.ComposeNetwork: "clocal"}},
		},
	}
	e := &fakeEngine{}
	for _, p := range []string{"foreign", "fresh", "killed", "leftover", "rerun", "running", "starting", "stopped", "testing"} {
		e.projects = append(e.projects, engine.ProjectSummary{Name: p})
	}
	return e, d
}

func policy(volumes bool) prune.Policy {
	return prune.Policy{Grace: 10 * time.Minute, Volumes: volumes, Hostname: "box", Now: now,
		Alive: func(pid int, _ string) bool { return pid == 100 }}
}

func projects(vs []prune.Verdict) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Project)
	}
	return out
}

// TestDecide: stale are the killed run and the stack stopped for an hour; the ups in
// progress (a network only, a re-run over a killed run's leftovers) are not.
func TestDecide(t *testing.T) {
	ws := t.TempDir()
	e, d := daemon(ws)
	stacks, err := inventory.Collect(context.Background(), e, d, "")
	if err != nil {
		t.Fatal(err)
	}
	vs := prune.Decide(stacks, policy(false))
	if got := projects(vs); !reflect.DeepEqual(got, []string{"killed", "stopped"}) {
		t.Fatalf("stale %v, want [killed stopped]", got)
	}
	if !vs[0].RemoveVolumes || vs[1].RemoveVolumes {
		t.Errorf("volumes: a killed run's go, others only with -v: %+v", vs)
	}
	if vs[0].Reason != "owner process 200 is gone" || vs[1].Reason != "no running container" || vs[1].WorkingDir != ws {
		t.Errorf("verdicts %+v", vs)
	}
	// -v: the stack of which only a data volume is left is stale too.
	if got := projects(prune.Decide(stacks, policy(true))); !reflect.DeepEqual(got, []string{"killed", "leftover", "stopped"}) {
		t.Fatalf("stale with -v %v", got)
	}
	// -p: only that project is looked at.
	only, _ := inventory.Collect(context.Background(), e, d, "stopped")
	if got := projects(prune.Decide(only, policy(false))); !reflect.DeepEqual(got, []string{"stopped"}) {
		t.Fatalf("stale of -p stopped: %v", got)
	}
}

func TestApply(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "clocal.yaml"), []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The stopped stack was started from ws: its state is there.
	state := stack.ProjectStateDir(ws, "stopped")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	e, d := daemon(ws)
	e.fail = map[string]error{"killed": errors.New("daemon said no")}
	stacks, _ := inventory.Collect(context.Background(), e, d, "")
	out := prune.Apply(context.Background(), e, prune.Decide(stacks, policy(false)), prune.ApplyOptions{Timeout: time.Second})
	if len(out) != 2 || out[0].Removed || out[0].Error != "daemon said no" || !out[1].Removed {
		t.Fatalf("outcomes %+v", out)
	}
	if !reflect.DeepEqual(e.downs, []string{"stopped"}) || e.volumes["stopped"] {
		t.Fatalf("downs %v volumes %v", e.downs, e.volumes)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state of the pruned stack kept: %v", err)
	}
}

// TestApplySkipsAStackAnotherClocalHolds: a stack whose project lock is held (an up that
// has created its containers and not started them yet looks stopped) is in use, not stale.
func TestApplySkipsAStackAnotherClocalHolds(t *testing.T) {
	ws := t.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "clocal.yaml"), []byte("name: t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := stack.LockProjectAt(context.Background(), ws, "stopped", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	e, d := daemon(ws)
	stacks, _ := inventory.Collect(context.Background(), e, d, "stopped")
	out := prune.Apply(context.Background(), e, prune.Decide(stacks, policy(false)), prune.ApplyOptions{})
	if len(out) != 1 || !out[0].Busy || out[0].Removed || len(e.downs) != 0 {
		t.Fatalf("outcomes %+v, downs %v", out, e.downs)
	}
}
