package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// shellWorkspace is a workspace of one service that clocal does not build: it runs the
// local busybox image, so a test has a shell and cat in a container.
func shellWorkspace(t *testing.T) string {
	t.Helper()
	img := testutil.EnsureBusybox(t)
	return testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":                 "name: shelltest\n",
		"services/shell/shell.job":    "job: <\n  name: \"shell-1\"\n  image: \"" + img + "\"\n  run_on_host: \"sh-1\"\n  command: \"sleep\"\n  args: \"3600\"\n>\n",
		"services/shell/service.yaml": "{}\n",
	})
}

// TestExecPassesStdin: exec attaches stdin with and without -T (only the terminal is
// dropped), as docker compose exec does.
func TestExecPassesStdin(t *testing.T) {
	root := shellWorkspace(t)
	project := testProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { runCLI(t, context.Background(), "-w", root, "-p", project, "down", "-t", "0") })
	mustRun(t, ctx, "-w", root, "-p", project, "up", "shell", "--ephemeral-ports")
	for _, args := range [][]string{
		{"exec", "-T", "shell", "sh", "-c", "cat; echo END"},
		{"exec", "shell", "sh", "-c", "cat; echo END"},
	} {
		r := runCLIWith(t, ctx, "line one\nline two\n", false, append([]string{"-w", root, "-p", project}, args...)...)
		if r.Code != 0 || r.Out != "line one\nline two\nEND\n" {
			t.Errorf("%v with two lines on stdin: exit %d, stdout %q, stderr %q", args, r.Code, r.Out, r.Err)
		}
	}
	// The command's exit status is clocal's.
	if r := runCLIWith(t, ctx, "", false, "-w", root, "-p", project, "exec", "-T", "shell", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("exit status %d, want 7 (%s)", r.Code, strings.TrimSpace(r.Err))
	}
}
