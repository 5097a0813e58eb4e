package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// runFake runs clocal in-process with a fake engine and records whether Docker was
// contacted at all.
func runFake(t *testing.T, args ...string) (result, *enginetest.Fake, *bool) {
	t.Helper()
	fake := &enginetest.Fake{}
	r, contacted := runWithFake(t, fake, true, args...)
	return r, fake, contacted
}

// runWithFake runs clocal in-process on a given fake engine; noColor is --no-color's (or
// NO_COLOR's) effect on the streams.
func runWithFake(t *testing.T, fake *enginetest.Fake, noColor bool, args ...string) (result, *bool) {
	t.Helper()
	var out, errOut bytes.Buffer
	no := false
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, TTY: &no, NoColor: noColor}
	f := NewFactory(io)
	contacted := false
	f.NewEngine = func(context.Context) (engine.Engine, error) { contacted = true; return fake, nil }
	f.NewDocker = func(context.Context) (client.APIClient, error) {
		contacted = true
		// A client that would fail on first use: unit tests never reach a daemon.
		return client.NewClientWithOpts(client.WithHost("unix:///nonexistent/docker.sock"))
	}
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	PrintError(&errOut, err)
	return result{Out: out.String(), Err: errOut.String(), Code: ExitCode(err)}, &contacted
}

func TestBadInputExitsTwoWithoutTouchingDocker(t *testing.T) {
	root := testutil.RepoRoot()
	badJob := filepath.Join(t.TempDir(), "bad.job")
	if err := os.WriteFile(badJob, []byte("job: <\n  nmae: \"x\"\n  image: \"y\"\n>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown target", []string{"-w", root, "up", "repo-manger"}, `did you mean "repo-manager"`},
		{"unknown service", []string{"-w", root, "logs", "kvstor"}, "kvstore"},
		{"bad flag", []string{"-w", root, "up", "--no-such-flag", "repo-manager"}, "unknown flag"},
		{"bad job file", []string{"validate", badJob}, "bad.job:2:3: unknown field \"nmae\""},
		{"bad job file convert", []string{"convert", badJob}, "bad.job:2:3"},
		{"no workspace", []string{"-w", t.TempDir(), "up", "x"}, "clocal.yaml"},
		{"graph format", []string{"-w", root, "graph", "--format", "svg"}, "unknown --format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, fake, contacted := runFake(t, c.args...)
			if r.Code != ExitBadInput {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.Code, ExitBadInput, r.Err)
			}
			if !strings.Contains(r.Err, c.want) {
				t.Fatalf("stderr %q does not contain %q", r.Err, c.want)
			}
			if *contacted || len(fake.Calls()) > 0 {
				t.Fatalf("bad input contacted Docker: %v", fake.Calls())
			}
		})
	}
}

func TestValidateAndConfigOnTheExampleWorkspace(t *testing.T) {
	root := testutil.RepoRoot()
	r, _, contacted := runFake(t, "-w", root, "validate")
	if r.Code != 0 || !strings.Contains(r.Err, "ok") {
		t.Fatalf("validate: %d %s", r.Code, r.Err)
	}
	r, _, _ = runFake(t, "-w", root, "config", "--services", "repo-manager")
	if got := strings.Fields(r.Out); strings.Join(got, ",") != "kvstore,markdown-renderer,repo-manager" {
		t.Fatalf("config --services repo-manager = %v", got)
	}
	r, _, _ = runFake(t, "-w", root, "profiles")
	if !strings.Contains(r.Out, "repo-manager") || !strings.Contains(r.Out, "DESCRIPTION") {
		t.Fatalf("profiles:\n%s", r.Out)
	}
	if *contacted {
		t.Fatal("model commands must not contact Docker")
	}
}

func TestCompletionOfTargets(t *testing.T) {
	root := testutil.RepoRoot()
	r, _, _ := runFake(t, "-w", root, "__complete", "up", "repo-m")
	if !strings.Contains(r.Out, "repo-manager") || !strings.Contains(r.Out, "repo-manager-2") {
		t.Fatalf("completion of up repo-m:\n%s", r.Out)
	}
	r, _, _ = runFake(t, "-w", root, "__complete", "logs", "kv")
	if !strings.Contains(r.Out, "kvstore") {
		t.Fatalf("completion of logs kv:\n%s", r.Out)
	}
}

func TestDownAndPsUseTheEngineByLabel(t *testing.T) {
	root := testutil.RepoRoot()
	r, fake, _ := runFake(t, "-w", root, "-p", "demo", "down", "-v")
	if r.Code != 0 {
		t.Fatalf("down: %d %s", r.Code, r.Err)
	}
	calls := fake.CallsTo("Down")
	if len(calls) != 1 || calls[0].Project != "demo" {
		t.Fatalf("Down calls = %+v", calls)
	}
	if o, ok := calls[0].Options.(engine.DownOptions); !ok || !o.Volumes {
		t.Fatalf("down -v must remove volumes: %+v", calls[0].Options)
	}
	r, fake, _ = runFake(t, "-w", root, "-p", "demo", "down")
	if o := fake.CallsTo("Down")[0].Options.(engine.DownOptions); o.Volumes {
		t.Fatal("down without -v removed named volumes")
	}
}

// TestDownWaitsForUpInProgress: down on a project whose lock an up holds waits (one
// "waiting" line) and tears down only once the up released it.
func TestDownWaitsForUpInProgress(t *testing.T) {
	root := testutil.CopyWorkspace(t)
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	holder := &stack.Stack{WS: ws, Name: "demo-locked", Out: io.Discard}
	unlock, err := holder.LockProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	var fake *enginetest.Fake
	go func() {
		r, f, _ := runFake(t, "-w", root, "-p", "demo-locked", "down")
		fake = f
		done <- r
	}()
	select {
	case r := <-done:
		unlock()
		t.Fatalf("down finished while an up held the project: %+v", r)
	case <-time.After(700 * time.Millisecond):
	}
	unlock()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("down still waiting after the lock was released")
	}
	if r.Code != 0 || len(fake.CallsTo("Down")) != 1 {
		t.Fatalf("down: %+v, calls %+v", r, fake.Calls())
	}
	if n := strings.Count(r.Err, "waiting for another clocal up on demo-locked"); n != 1 {
		t.Errorf("%d waiting lines in:\n%s", n, r.Err)
	}
}
