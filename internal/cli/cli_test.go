package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// TestCompletion: services, profiles, job and host names for every verb that takes them
// (names already given are not offered again), one SERVICE for exec and friends, and flag
// values.
func TestCompletion(t *testing.T) {
	root := testutil.RepoRoot()
	complete := func(args ...string) []string {
		t.Helper()
		r, _, _ := runFake(t, append([]string{"-w", root, "__complete"}, args...)...)
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(r.Out), "\n") {
			if name, _, _ := strings.Cut(l, "\t"); name != "" && !strings.HasPrefix(name, ":") {
				names = append(names, name)
			}
		}
		return names
	}
	has := func(l []string, s string) bool { return slices.Contains(l, s) }
	cases := []struct {
		args       []string
		want, not  []string
		exactCount int
	}{
		{args: []string{"up", "repo-m"}, want: []string{"repo-manager", "repo-manager-2"}},
		{args: []string{"up", "git-"}, want: []string{"git-1", "git-3", "git-hook-dispatcher"}},                      // hosts
		{args: []string{"up", "repo-manager", "kv"}, want: []string{"kvstore", "kvstore-1", "kv-1"}},                 // profile, service, job, host
		{args: []string{"up", "repo-manager", ""}, want: []string{"blog", "kvstore"}, not: []string{"repo-manager"}}, // not twice
		{args: []string{"logs", "kvstore", ""}, want: []string{"markdown-renderer", "md-1"}, not: []string{"kvstore", "blog"}},
		{args: []string{"restart", "kv"}, want: []string{"kvstore", "kv-1", "kvstore-1"}},
		{args: []string{"stats", "bl"}, want: []string{"blog"}},
		{args: []string{"exec", "kv"}, want: []string{"kvstore"}},
		{args: []string{"exec", "kvstore", ""}, exactCount: 0},
		{args: []string{"port", "kvstore", ""}, exactCount: 0},
		{args: []string{"gc", "--service", "kvstore", "--service", ""}, want: []string{"markdown-renderer"}, not: []string{"kvstore", "kvstore-1"}},
		{args: []string{"graph", "--format", ""}, want: []string{"text", "dot", "mermaid", "json"}, exactCount: 4},
		{args: []string{"up", "--pull", ""}, want: []string{"missing", "always", "never"}, exactCount: 3},
		// --profile: profiles only, not the ones already given as a flag or a TARGET
		{args: []string{"up", "--profile", ""}, want: []string{"all", "blog", "notify", "repo-manager", "search"}, exactCount: 5},
		{args: []string{"up", "--profile", "blog", "--profile", ""}, want: []string{"notify"}, not: []string{"blog", "kvstore"}},
		{args: []string{"graph", "search", "--profile", ""}, want: []string{"blog"}, not: []string{"search", "kvstore"}},
		{args: []string{"watch", "--profile", "re"}, want: []string{"repo-manager"}, exactCount: 1},
	}
	for _, c := range cases {
		got := complete(c.args...)
		for _, w := range c.want {
			if !has(got, w) {
				t.Errorf("complete %q: no %q in %v", c.args, w, got)
			}
		}
		for _, n := range c.not {
			if has(got, n) {
				t.Errorf("complete %q: %q offered again: %v", c.args, n, got)
			}
		}
		if (c.exactCount > 0 || c.want == nil) && len(got) != c.exactCount {
			t.Errorf("complete %q: %d names %v, want %d", c.args, len(got), got, c.exactCount)
		}
	}
}

// TestProfileFlag: --profile NAME (docker compose's way) is the same as naming the
// profile as a TARGET, on every verb that takes targets; a name that is not a profile is
// bad input, said before anything is touched.
func TestProfileFlag(t *testing.T) {
	root := testutil.RepoRoot()
	for _, c := range [][2][]string{
		{{"config", "--profile", "blog"}, {"config", "blog"}},
		{{"config", "search", "--profile", "blog", "--profile", "notify"}, {"config", "search", "blog", "notify"}},
		{{"graph", "--json", "--profile", "notify"}, {"graph", "--json", "notify"}},
	} {
		flag, _, _ := runFake(t, append([]string{"-w", root}, c[0]...)...)
		pos, _, _ := runFake(t, append([]string{"-w", root}, c[1]...)...)
		if flag.Code != 0 || flag.Out != pos.Out || flag.Err != pos.Err {
			t.Errorf("clocal %v (exit %d) differs from clocal %v (exit %d):\n%.400s\n---\n%.400s%s", c[0], flag.Code, c[1], pos.Code, flag.Out, pos.Out, flag.Err)
		}
	}
	for _, args := range [][]string{{"up", "--profile", "kvstore"}, {"up", "--profile", "nosuch"}, {"stats", "--profile", "kv-1"}, {"doctor", "--profile", "x"}} {
		r, fake, contacted := runFake(t, append([]string{"-w", root}, args...)...)
		if r.Code != ExitBadInput || !strings.Contains(r.Err, "--profile "+args[2]+": no such profile") {
			t.Errorf("clocal %v: exit %d, want 2 and no such profile:\n%s", args, r.Code, r.Err)
		}
		if *contacted || len(fake.Calls()) > 0 {
			t.Errorf("clocal %v contacted Docker: %v", args, fake.Calls())
		}
	}
	// up needs a TARGET or a --profile.
	if r, _, _ := runFake(t, "-w", root, "up"); r.Code != ExitBadInput || !strings.Contains(r.Err, "requires at least 1 arg(s)") {
		t.Errorf("up without target: exit %d\n%s", r.Code, r.Err)
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
