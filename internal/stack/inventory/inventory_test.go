package inventory_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/dockerfake"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
)

type projects []engine.ProjectSummary

func (p projects) Projects(context.Context) ([]engine.ProjectSummary, error) { return p, nil }

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ctr(project, svc, state string, age time.Duration, extra ...string) container.Summary {
	l := map[string]string{labels.ComposeProject: project, labels.ComposeService: svc, labels.ComposeWorkingDir: "/ws/" + project}
	if svc != "db" {
		l[labels.Service] = svc
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return container.Summary{ID: project + svc, State: state, Created: t0.Add(-age).Unix(), Labels: l}
}

func TestCollectAndSummarize(t *testing.T) {
	d := &dockerfake.Client{
		Containers: []container.Summary{
			ctr("dev", "kvstore", "running", 2*time.Hour), ctr("dev", "web", "running", time.Hour),
			ctr("half", "kvstore", "running", time.Hour), ctr("half", "web", "exited", time.Hour),
			ctr("test", "kvstore", "created", time.Minute, labels.OwnerPID, "42", labels.OwnerHost, "box"),
			ctr("dead", "kvstore", "exited", time.Hour, labels.OwnerPID, "43", labels.OwnerHost, "box"),
			ctr("other", "db", "running", time.Hour),
		},
		Volumes:  []*volume.Volume{{Name: "gone_data", Labels: map[string]string{labels.ComposeProject: "gone", labels.HostPath: "/data"}}},
		Networks: []network.Summary{{Name: "dev_clocal", Created: t0.Add(-3 * time.Hour), Labels: map[string]string{labels.ComposeProject: "dev", labels.ComposeNetwork: "clocal"}}},
	}
	e := projects{{Name: "dead"}, {Name: "dev"}, {Name: "gone"}, {Name: "half"}, {Name: "other"}, {Name: "test"}}
	stacks, err := inventory.Collect(context.Background(), e, d, "")
	if err != nil {
		t.Fatal(err)
	}
	alive := func(pid int, _ string) bool { return pid == 42 }
	got := inventory.Summarize(stacks, "box", alive, false)
	var rows []string
	for _, s := range got {
		rows = append(rows, s.Project+" "+s.State+" "+s.Owner+" "+map[bool]string{true: "alive", false: "-"}[s.OwnerAlive])
	}
	want := []string{"dead stopped pid 43 on box -", "dev running  -", "gone leftovers  -", "half partial  -", "test stopped pid 42 on box alive"}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("summaries\n%q\nwant\n%q", rows, want)
	}
	dev := got[1]
	if dev.Running != 2 || dev.Total != 2 || dev.Workspace != "/ws/dev" || !dev.Created.Equal(t0.Add(-3*time.Hour)) || !reflect.DeepEqual(dev.Services, []string{"kvstore", "web"}) {
		t.Errorf("dev: %+v", dev)
	}
	if all := inventory.Summarize(stacks, "box", alive, true); len(all) != 6 || all[4].Project != "other" || all[4].Clocal {
		t.Errorf("--all: %+v", all)
	}
}
