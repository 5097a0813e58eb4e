package cli

import (
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
	for _, c := range projectContainers(t, docker, project) {
		if !strings.Contains(c.Status, "(healthy)") {
			t.Errorf("%s: %s, want healthy", c.Names[0], c.Status)
		}
	}
	// The second up found the stack current: it built and recreated nothing.
	if strings.Contains(rb.Err, "SLOW-BUILD-START") {
		t.Errorf("the second up ran build.sh again:\n%s", rb.Err)
	}
}
