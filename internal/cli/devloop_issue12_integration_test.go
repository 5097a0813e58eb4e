package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestUpIsAdditive (QA-14): `up svc-01` while the stack runs svc-00 (started by `up
// svc-00`) keeps svc-00's container running, untouched, and says so; down removes both.
func TestUpIsAdditive(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{Services: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	mustRun(t, ctx, "-w", ws, "-p", project, "up", "svc-00", "--ephemeral-ports", "--timeout", "3m")
	before := dlContainers(t, docker, project)
	if _, ok := before["svc-00"]; !ok || len(before) != 1 {
		t.Fatalf("after up svc-00: containers %v", dlIDs(before))
	}
	r := mustRun(t, ctx, "-w", ws, "-p", project, "up", "svc-01", "--ephemeral-ports", "--timeout", "3m")
	if !strings.Contains(r.Err, "kept running: svc-00") {
		t.Errorf("up svc-01 did not say it kept svc-00:\n%s", r.Err)
	}
	after := dlContainers(t, docker, project)
	if a, b := before["svc-00"], after["svc-00"]; b.ID != a.ID || b.State != "running" {
		t.Errorf("svc-00 after up svc-01: %.12s %s, want %.12s running", b.ID, b.State, a.ID)
	}
	if after["svc-01"].State != "running" {
		t.Errorf("svc-01 after up svc-01: %q", after["svc-01"].State)
	}
	if m, err := fleetMarker(docker, project, "svc-00"); err != nil || m != "m1/v1" {
		t.Errorf("svc-00 serves %q, %v", m, err)
	}
	// A second up of the first target changes nothing either (both stay).
	r = mustRun(t, ctx, "-w", ws, "-p", project, "up", "svc-00", "--ephemeral-ports", "--timeout", "3m", "--json")
	var up upJSON
	if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
		t.Fatalf("up --json: %v\n%s", err, r.Out)
	}
	if s, ok := up.Services["svc-01"]; !ok || s.Image != after["svc-01"].Image {
		t.Errorf("up svc-00 --json on the stack: svc-01 (kept) is %+v, want its running image %s", s, after["svc-01"].Image)
	}
	again := dlContainers(t, docker, project)
	if !dlSameIDs(after, again, "svc-00", "svc-01") {
		t.Errorf("up svc-00 again changed containers: %v -> %v", dlIDs(after), dlIDs(again))
	}
	mustRun(t, ctx, "-w", ws, "-p", project, "down", "-t", "2s")
	if left := dlContainers(t, docker, project); len(left) != 0 {
		t.Errorf("down left %v", dlIDs(left))
	}
}
