package cli

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// runCLITerminal runs clocal in-process as in a colour terminal (progress redrawn in
// place), its error stream in errOut, which the test may read while it runs.
func runCLITerminal(t testing.TB, ctx context.Context, errOut *testutil.SyncBuffer, args ...string) result {
	t.Helper()
	var out testutil.SyncBuffer
	tty := true
	io := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut, TTY: &tty}
	root := NewRootCmd(NewFactory(io))
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil && err != nil {
		err = context.Canceled
	}
	PrintError(errOut, err)
	return result{Out: out.String(), Err: errOut.String(), Code: ExitCode(err)}
}

// TestPullFaults: the moments a pull goes wrong, each on a real registry.
//   - A fresh stack whose registry is unreachable: exit 1, one line naming the image and
//     the registry, and nothing was created.
//   - A running stack, a tag its registry does not have: the same, the stack untouched.
//   - A running stack, a new image whose layer (8 MB) arrives corrupt half-way (a proxy
//     sends half of it and garbage for the rest): exit 1, one line, the stack as it was, no
//     image left.
//   - The same image stuck half-way (the proxy stops sending): in a terminal its progress
//     line shows the bytes downloaded, then a Ctrl-C: exit 130, the stack as it was, no
//     image left.
func TestPullFaults(t *testing.T) {
	docker := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	root, _, project := registryWorkspace(t, docker, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := func(extra ...string) []string {
		return append([]string{"-w", root, "-p", project, "up", "app", "--ephemeral-ports", "--timeout", "2m"}, extra...)
	}
	jobFile := filepath.Join(root, "services", "db", "db.job")
	db1 := reg.Ref("third/db:1")

	// Unreachable on a fresh stack: nothing is created.
	gone := testutil.ClosedAddr(t)
	unreachable := gone + "/third/db:1"
	editFile(t, jobFile, db1, unreachable)
	r := runCLI(t, ctx, args()...)
	line := errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, unreachable+" (db)") || !strings.Contains(line, "registry "+gone) {
		t.Fatalf("unreachable registry on a fresh stack: exit %d, %q", r.Code, line)
	}
	if ctrs, nets, vols := leftovers(t, docker, project); len(ctrs)+len(nets)+len(vols) > 0 {
		t.Fatalf("an unreachable registry left %v %v %v", ctrs, nets, vols)
	}
	editFile(t, jobFile, unreachable, db1)
	if r := runCLI(t, ctx, args()...); r.Code != 0 {
		t.Fatalf("up: exit %d\n%s", r.Code, r.Err)
	}
	before := ctrIDs(t, docker, project)
	if len(before) != 3 {
		t.Fatalf("containers after up: %v", before)
	}

	// An unknown tag: one line naming image and registry; the running stack untouched.
	nope := reg.Ref("third/db:nope")
	editFile(t, jobFile, db1, nope)
	r = runCLI(t, ctx, args()...)
	line = errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, nope+" (db)") || !strings.Contains(line, "registry "+reg.Host) || !strings.Contains(line, `tag "nope" does not exist`) {
		t.Fatalf("unknown tag: exit %d, %q", r.Code, line)
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("an unknown tag changed containers: %v -> %v", before, after)
	}
	editFile(t, jobFile, nope, db1)

	big := testutil.RandName("clocaltest/big:")
	if err := testutil.LargeImage(ctx, docker, big, 8<<20); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, big) })
	reg.Push(t, docker, big, "third/db:big")
	if err := testutil.RemoveImage(ctx, docker, big); err != nil {
		t.Fatal(err)
	}
	absent := func(ref string) {
		t.Helper()
		if _, err := docker.ImageInspect(ctx, ref); err == nil {
			_ = testutil.RemoveImage(context.Background(), docker, ref)
			t.Fatalf("%s exists after a failed pull", ref)
		}
	}

	// Corrupt half-way: the daemon's digest check fails; nothing changed.
	bad := testutil.StartBlobProxy(t, reg, testutil.CorruptHalfway)
	corrupt := bad.Host + "/third/db:big"
	editFile(t, jobFile, db1, corrupt)
	r = runCLI(t, ctx, args()...)
	t.Logf("corrupt half-way:\n%s", r.Err)
	line = errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, corrupt+" (db)") || !strings.Contains(line, "registry "+bad.Host) {
		t.Fatalf("a pull that failed half-way: exit %d, %q", r.Code, line)
	}
	select {
	case n := <-bad.Halfway:
		t.Logf("the layer was corrupted after %d bytes", n)
	default:
		t.Fatal("the pull failed before the proxy sent half of the layer")
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("a pull that failed half-way changed containers: %v -> %v", before, after)
	}
	absent(corrupt)

	// Stuck half-way, in a terminal: the image's line shows how far it got; Ctrl-C.
	stall := testutil.StartBlobProxy(t, reg, testutil.StallHalfway)
	stuck := stall.Host + "/third/db:big"
	editFile(t, jobFile, corrupt, stuck)
	upCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	var errOut testutil.SyncBuffer
	progress := regexp.MustCompile(regexp.QuoteMeta(stuck) + ` +downloading [1-9][0-9.]*[kM]B/[0-9.]+MB, 0/1 layers`)
	go func() {
		defer interrupt()
		select {
		case <-stall.Halfway:
		case <-upCtx.Done():
			return
		}
		// The daemon reports progress as the bytes arrive; bounded, so that a missing line
		// fails below instead of hanging.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !progress.MatchString(errOut.String()); {
			time.Sleep(50 * time.Millisecond)
		}
	}()
	r = runCLITerminal(t, upCtx, &errOut, args()...)
	interrupt()
	t.Logf("interrupted mid-transfer:\n%q", r.Err)
	if r.Code != ExitInterrupted {
		t.Fatalf("Ctrl-C mid-pull: exit %d, want %d\n%s", r.Code, ExitInterrupted, r.Err)
	}
	if !progress.MatchString(r.Err) || !strings.Contains(r.Err, "\x1b[1A") {
		t.Fatalf("no progress line of %s redrawn in place:\n%q", stuck, r.Err)
	}
	if after := ctrIDs(t, docker, project); !equalMaps(before, after) {
		t.Fatalf("Ctrl-C mid-pull changed containers: %v -> %v", before, after)
	}
	absent(stuck)
}
