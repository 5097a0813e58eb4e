package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestConcurrentUp: two clocal processes run up on the same project at once. The first holds
// the project lock (kept inside a slow build.sh so the overlap is certain); the second says
// it waits, then converges. Both exit 0 and the stack has one running container per service.
func TestConcurrentUp(t *testing.T) {
	docker := testutil.RequireDocker(t)
	root := testutil.CopyWorkspace(t)
	flag := slowBuild(t, root)
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	env := []string{"CLOCAL_SLOW_FLAG=" + flag}
	args := []string{"-w", root, "-p", project, "up", "repo-manager", "--ephemeral-ports"}
	a := startClocal(t, env, args...)
	a.waitOutput("SLOW-BUILD-START", 5*time.Minute)
	b := startClocal(t, env, args...)
	b.waitOutput("waiting for another clocal up on "+project, 2*time.Minute)
	_ = os.Remove(flag) // let a's build finish
	ra, rb := a.wait(10*time.Minute), b.wait(10*time.Minute)
	if ra.Code != 0 || rb.Code != 0 {
		t.Fatalf("exit codes %d and %d\nfirst:\n%s\nsecond:\n%s", ra.Code, rb.Code, ra.Err, rb.Err)
	}
	st := containerStates(t, docker, project)
	for _, svc := range []string{"kvstore", "markdown-renderer", "repo-manager"} {
		if strings.Join(st[svc], ",") != "running" {
			t.Errorf("%s: %v, want one running container", svc, st[svc])
		}
	}
	if len(st) != 3 {
		t.Errorf("services with containers: %v", st)
	}
	// Healthy as clocal found them (its readiness checks: Docker's own probes are minutes
	// apart, so `docker ps` may still say "health: starting").
	ps := runClocal(t, time.Minute, nil, "-w", root, "-p", project, "ps", "--json")
	var rows []psJSON
	if err := json.Unmarshal([]byte(ps.Out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("clocal ps --json: %v (%d rows)\n%s%s", err, len(rows), ps.Out, ps.Err)
	}
	for _, r := range rows {
		if r.Health != "healthy" {
			t.Errorf("%s: health %q (%s), want healthy", r.Service, r.Health, r.Status)
		}
	}
	// The second up found the stack current: it built and recreated nothing.
	if strings.Contains(rb.Err, "SLOW-BUILD-START") {
		t.Errorf("the second up ran build.sh again:\n%s", rb.Err)
	}
}
