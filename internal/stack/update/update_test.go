package update_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/clocal-dev/clocal/internal/dockerfake"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/update"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func cand(tag string, minutesAgo int) update.Candidate {
	return update.Candidate{Ref: "clocal/kvstore:" + tag, Tag: tag, ID: "sha-" + tag, BuiltAt: t0.Add(-time.Duration(minutesAgo) * time.Minute), Origin: "local"}
}

func TestChoose(t *testing.T) {
	cands := []update.Candidate{cand("3f2a9c1d0b7e", 1), cand("3f2b00000000", 2), cand("a1b2c3d4e5f6", 3)}
	cases := []struct{ want, got, err string }{
		{"a1b2c3d4e5f6", "a1b2c3d4e5f6", ""},
		{"clocal/kvstore:3f2b00000000", "3f2b00000000", ""},
		{"a1", "a1b2c3d4e5f6", ""},
		{"3f2a", "3f2a9c1d0b7e", ""},
		{"3f2", "", `"3f2" is ambiguous (3f2a9c1d0b7e, 3f2b00000000)`},
		{"ffff", "", `no such image "ffff"`},
		{"", "", "empty image tag"},
	}
	for _, c := range cases {
		got, err := update.Choose(cands, c.want)
		if c.err != "" {
			if err == nil || !errors.Is(err, update.ErrNoMatch) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Choose(%q) = %v, %v; want error %q", c.want, got.Tag, err, c.err)
			}
			continue
		}
		if err != nil || got.Tag != c.got {
			t.Errorf("Choose(%q) = %q, %v; want %q", c.want, got.Tag, err, c.got)
		}
	}
}

func TestImages(t *testing.T) {
	current := map[string]string{"kvstore": "clocal/kvstore:old", "markdown-renderer": "clocal/markdown-renderer:m", "host-x": "clocal/pause:local", "third": "registry/x:1"}
	got := update.Images(current, nil, []string{"kvstore", "markdown-renderer", "repo-manager", "third"}, "kvstore", "clocal/kvstore:new")
	want := map[string]string{"kvstore": "clocal/kvstore:new", "markdown-renderer": "clocal/markdown-renderer:m"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Images = %v, want %v", got, want)
	}
	// A pinned service keeps its pin (a registry image clocal did not build).
	got = update.Images(current, map[string]string{"third": "registry/x:1", "kvstore": "clocal/kvstore:old"}, []string{"kvstore", "markdown-renderer", "third"}, "kvstore", "clocal/kvstore:new")
	want = map[string]string{"kvstore": "clocal/kvstore:new", "markdown-renderer": "clocal/markdown-renderer:m", "third": "registry/x:1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Images with pins = %v, want %v", got, want)
	}
}

func TestSortAndLocalImages(t *testing.T) {
	other := "/elsewhere"
	fake := &dockerfake.Client{Images: []image.Summary{
		{ID: "sha-b", RepoTags: []string{"clocal/kvstore:bbbb"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: "/ws", labels.BuiltAt: t0.Format(time.RFC3339)}},
		{ID: "sha-a", RepoTags: []string{"clocal/kvstore:aaaa"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: "/ws", labels.BuiltAt: t0.Format(time.RFC3339), labels.SourceRev: "abc"}},
		{ID: "sha-c", RepoTags: []string{"clocal/kvstore:cccc"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: "/ws", labels.BuiltAt: t0.Add(-time.Hour).Format(time.RFC3339)}},
		{ID: "sha-o", RepoTags: []string{"clocal/kvstore:oooo"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: other}},
		{ID: "sha-r", RepoTags: []string{"clocal/kvstore:rrrr", "mirror/kvstore:rrrr"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: other, labels.BuiltAt: t0.Add(time.Hour).Format(time.RFC3339)}},
		{ID: "sha-m", RepoTags: []string{"clocal/markdown:1"}, Labels: map[string]string{labels.Service: "markdown"}},
		// A split replica's image: built (and labelled) for kvstore-west, tagged for kvstore too.
		{ID: "sha-s", RepoTags: []string{"clocal/kvstore-west:ssss", "clocal/kvstore:ssss"}, Labels: map[string]string{labels.Service: "kvstore-west", labels.Workspace: "/ws", labels.BuiltAt: t0.Add(-2 * time.Hour).Format(time.RFC3339)}},
		{ID: "sha-x", RepoTags: []string{"clocal/kvstore:xxxx"}}, // not clocal's build
	}}
	l := update.LocalImages{Docker: fake, Root: "/ws"}
	cands, err := l.Candidates(context.Background(), update.Query{Service: "kvstore", Running: "clocal/kvstore:rrrr"})
	if err != nil {
		t.Fatal(err)
	}
	update.Sort(cands, "clocal/kvstore:rrrr")
	var tags []string
	for _, c := range cands {
		tags = append(tags, fmt.Sprintf("%s running=%v rev=%s", c.Tag, c.Running, c.Rev))
	}
	// Another checkout's images are left out unless one runs; equal build times are
	// ordered by tag.
	want := []string{"rrrr running=true rev=", "aaaa running=false rev=abc", "bbbb running=false rev=", "cccc running=false rev=", "ssss running=false rev="}
	if !reflect.DeepEqual(tags, want) {
		t.Fatalf("candidates\n%v\nwant\n%v", tags, want)
	}
}

// running starts kvstore (with image) on a fake engine, as up would have, and returns the
// stack and the fakes.
func running(t *testing.T, img string, extra ...image.Summary) (*stack.Stack, *enginetest.Fake, *bytes.Buffer) {
	t.Helper()
	ws, err := workspace.Load(testutil.CopyWorkspace(t))
	if err != nil {
		t.Fatal(err)
	}
	eng := &enginetest.Fake{}
	docker := &dockerfake.Client{Images: []image.Summary{
		{ID: "sha-old", RepoTags: []string{"clocal/kvstore:old"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: ws.Root, labels.BuiltAt: t0.Format(time.RFC3339)}},
		{ID: "sha-new", RepoTags: []string{"clocal/kvstore:new"}, Labels: map[string]string{labels.Service: "kvstore", labels.Workspace: ws.Root, labels.BuiltAt: t0.Add(time.Minute).Format(time.RFC3339)}},
	}}
	docker.Images = append(docker.Images, extra...)
	var out bytes.Buffer
	st := stack.New(ws, "upd", eng, docker, &out)
	st.Convert.EphemeralPorts = true
	sel, err := ws.Resolve([]string{"kvstore"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveState(stack.State{Targets: []string{"kvstore"}, Services: sel.Services, EphemeralPorts: true}); err != nil {
		t.Fatal(err)
	}
	p, _, err := st.Project(context.Background(), sel, map[string]string{"kvstore": img})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Up(context.Background(), p, engine.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	eng.Reset()
	// A fresh stack value, as a new clocal process would have: the port mode comes from
	// the recorded state.
	st = stack.New(ws, "upd", eng, docker, &out)
	return st, eng, &out
}

func runningImage(t *testing.T, eng *enginetest.Fake) string {
	t.Helper()
	ctrs, err := eng.Ps(context.Background(), "upd", engine.PsOptions{All: true})
	if err != nil || len(ctrs) != 1 {
		t.Fatalf("ps: %v %v", ctrs, err)
	}
	return ctrs[0].Image
}

func TestSwitch(t *testing.T) {
	st, eng, out := running(t, "clocal/kvstore:old")
	u := &update.Updater{Stack: st, Out: out, Timeout: time.Minute}
	status, err := u.Status(context.Background(), "kvstore")
	if err != nil {
		t.Fatal(err)
	}
	if status.Running != "clocal/kvstore:old" || len(status.Candidates) != 2 || status.Candidates[0].Tag != "new" || !status.Candidates[1].Running {
		t.Fatalf("status %+v", status)
	}
	c, err := update.Choose(status.Candidates, "new")
	if err != nil {
		t.Fatal(err)
	}
	prepared := ""
	u.Prepare = func(_ context.Context, c update.Candidate) error { prepared = c.Ref; return nil }
	res, err := u.Switch(context.Background(), "kvstore", c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.RolledBack || res.From != "clocal/kvstore:old" || res.To != "clocal/kvstore:new" || prepared != "clocal/kvstore:new" {
		t.Fatalf("result %+v, prepared %q", res, prepared)
	}
	calls := eng.CallsTo("Replace")
	if len(calls) != 1 || calls[0].Services[0] != "kvstore" || calls[0].Options.(engine.ReplaceOptions).WaitTimeout != time.Minute {
		t.Fatalf("replace calls %+v", calls)
	}
	if img := runningImage(t, eng); img != "clocal/kvstore:new" {
		t.Fatalf("kvstore runs %s after the switch", img)
	}
	// The recorded port mode is kept: the regenerated project publishes daemon-chosen ports.
	if !st.Convert.EphemeralPorts {
		t.Error("the switch lost the stack's ephemeral ports")
	}
	// Switching to what runs changes nothing.
	eng.Reset()
	if res, err := u.Switch(context.Background(), "kvstore", c); err != nil || res.Changed || len(eng.CallsTo("Replace")) != 0 {
		t.Fatalf("second switch: %+v %v %v", res, err, eng.Calls())
	}
}

func TestSwitchRollsBackWhenUnhealthy(t *testing.T) {
	st, eng, out := running(t, "clocal/kvstore:old")
	eng.FailNext("Replace", fmt.Errorf("kvstore: %w", engine.ErrNotReady))
	u := &update.Updater{Stack: st, Out: out}
	res, err := u.Switch(context.Background(), "kvstore", update.Candidate{Ref: "clocal/kvstore:new", Tag: "new"})
	if err == nil || !errors.Is(err, engine.ErrNotReady) || !res.RolledBack {
		t.Fatalf("switch: %+v, %v", res, err)
	}
	if calls := eng.CallsTo("Replace"); len(calls) != 2 {
		t.Fatalf("replace calls %+v", calls)
	}
	if img := runningImage(t, eng); img != "clocal/kvstore:old" {
		t.Fatalf("kvstore runs %s after the roll back", img)
	}
	if !strings.Contains(out.String(), "rolling back to clocal/kvstore:old") {
		t.Errorf("output:\n%s", out)
	}
}

// TestSwitchTakesTheProjectLock: while another clocal holds the stack (an up, a watch
// reloading it), update waits instead of recreating the container under it.
func TestSwitchTakesTheProjectLock(t *testing.T) {
	st, eng, out := running(t, "clocal/kvstore:old")
	unlock, err := stack.LockProjectAt(context.Background(), st.WS.Root, st.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	u := &update.Updater{Stack: st, Out: out}
	_, err = u.Switch(ctx, "kvstore", update.Candidate{Ref: "clocal/kvstore:new", Tag: "new"})
	unlock()
	if !errors.Is(err, context.DeadlineExceeded) || len(eng.CallsTo("Replace")) != 0 {
		t.Fatalf("switch under a held lock: %v, calls %+v", err, eng.Calls())
	}
	if !strings.Contains(out.String(), "waiting for another clocal up on upd") {
		t.Errorf("no waiting line:\n%s", out)
	}
	if _, err := u.Switch(context.Background(), "kvstore", update.Candidate{Ref: "clocal/kvstore:new", Tag: "new"}); err != nil {
		t.Fatalf("switch after the lock was released: %v", err)
	}
}

func TestSwitchOfAServiceThatDoesNotRun(t *testing.T) {
	st, _, out := running(t, "clocal/kvstore:old")
	u := &update.Updater{Stack: st, Out: out}
	_, err := u.Switch(context.Background(), "markdown-renderer", update.Candidate{Ref: "clocal/markdown-renderer:x"})
	if !errors.Is(err, update.ErrNotRunning) {
		t.Fatalf("err = %v", err)
	}
}

// TestPinAndLatest: a switch that worked pins the image (Status shows it), a rolled back one
// leaves the pin as it was; Latest unpins and runs the production image of a service that
// has no build (or, when that is unhealthy, the pinned image again, still pinned).
func TestPinAndLatest(t *testing.T) {
	ctx := context.Background()
	st, eng, out := running(t, "clocal/kvstore:old", image.Summary{ID: "sha-prod", RepoTags: []string{"kvstore:latest"}})
	u := &update.Updater{Stack: st, Out: out}
	res, err := u.Switch(ctx, "kvstore", update.Candidate{Ref: "clocal/kvstore:new", Tag: "new"})
	if err != nil || !res.Pinned {
		t.Fatalf("switch: %+v %v", res, err)
	}
	pins, _ := st.Pins()
	if pins["kvstore"].Image != "clocal/kvstore:new" {
		t.Fatalf("pins after the switch: %+v", pins)
	}
	status, err := u.Status(ctx, "kvstore")
	if err != nil || status.Pinned != "clocal/kvstore:new" || !status.Candidates[0].Pinned || !status.Candidates[0].Running {
		t.Fatalf("status %+v %v", status, err)
	}

	eng.FailNext("Replace", fmt.Errorf("kvstore: %w", engine.ErrNotReady))
	if res, err := u.Switch(ctx, "kvstore", update.Candidate{Ref: "clocal/kvstore:old", Tag: "old"}); err == nil || !res.RolledBack || res.Pinned {
		t.Fatalf("switch to an unhealthy image: %+v %v", res, err)
	}
	if pins, _ := st.Pins(); pins["kvstore"].Image != "clocal/kvstore:new" {
		t.Fatalf("a rolled back switch changed the pin: %+v", pins)
	}

	// Without a Dockerfile kvstore runs its production image: --latest goes back to it.
	if err := os.Remove(filepath.Join(st.WS.Root, "services", "kvstore", "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	eng.FailNext("Replace", fmt.Errorf("kvstore: %w", engine.ErrNotReady))
	if res, err := u.Latest(ctx, "kvstore"); err == nil || !res.RolledBack {
		t.Fatalf("latest to an unhealthy image: %+v %v", res, err)
	}
	if pins, _ := st.Pins(); pins["kvstore"].Image != "clocal/kvstore:new" || runningImage(t, eng) != "clocal/kvstore:new" {
		t.Fatalf("after a rolled back --latest: pins %+v, running %s", pins, runningImage(t, eng))
	}
	res, err = u.Latest(ctx, "kvstore")
	if err != nil || !res.Changed || res.To != "kvstore:latest" {
		t.Fatalf("latest: %+v %v", res, err)
	}
	if pins, _ := st.Pins(); len(pins) != 0 || runningImage(t, eng) != "kvstore:latest" {
		t.Fatalf("after --latest: pins %+v, running %s", pins, runningImage(t, eng))
	}
}

type failingLister struct{ err error }

func (f failingLister) Candidates(context.Context, update.Query) ([]update.Candidate, error) {
	return nil, f.err
}

// TestStatusWarnsWhenARegistryFails: an unreachable registry leaves its tags out with a
// warning; the local builds are still listed. Only when every lister fails is it an error.
func TestStatusWarnsWhenARegistryFails(t *testing.T) {
	st, _, out := running(t, "clocal/kvstore:old")
	down := failingLister{errors.New("cannot pull reg.corp/kvstore:1 from registry reg.corp: the registry is unreachable (connection refused)")}
	u := &update.Updater{Stack: st, Out: out, Listers: []update.Lister{update.LocalImages{Docker: st.Docker, Root: st.WS.Root}, down}}
	status, err := u.Status(context.Background(), "kvstore")
	if err != nil || len(status.Candidates) != 2 || len(status.Warnings) != 1 || !strings.Contains(status.Warnings[0], "unreachable") {
		t.Fatalf("status %+v, %v", status, err)
	}
	u.Listers = []update.Lister{down}
	if _, err := u.Status(context.Background(), "kvstore"); err == nil {
		t.Fatal("every lister failed and Status did not")
	}
}
