package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// fakeStack is the example workspace's repo-manager stack on the fake engine.
func fakeStack(t *testing.T, target string) (*stack.Stack, *enginetest.Fake) {
	t.Helper()
	ws, err := workspace.Load(testutil.CopyWorkspace(t))
	if err != nil {
		t.Fatal(err)
	}
	fake := &enginetest.Fake{}
	st := stack.New(ws, "uitest", fake, nil, nil)
	st.Convert.EphemeralPorts = true
	sel, err := ws.Resolve([]string{target})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := st.Project(context.Background(), sel, st.Images(sel.Services))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveState(stack.State{Targets: []string{target}, Services: sel.Services, EphemeralPorts: true}); err != nil {
		t.Fatal(err)
	}
	if err := fake.Up(context.Background(), p, engine.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	return st, fake
}

func TestStackSourceSnapshotAndActions(t *testing.T) {
	st, fake := fakeStack(t, "repo-manager")
	if err := st.SetPin("markdown-renderer", "registry.example/markdown-renderer:1.4"); err != nil {
		t.Fatal(err)
	}
	st.RecordBuild(stack.BuildRecord{Service: "kvstore", Time: time.Now(), OK: false, Error: "build.sh exited 2", Tail: []string{"main.go:3: undefined: x"}})
	src := NewStackSource(st, StackOptions{Poll: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	snap, err := src.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Project != "uitest" || !snap.Up || strings.Join(snap.Targets, ",") != "repo-manager" || snap.Graph == nil || len(snap.Graph.Edges) != 2 {
		t.Fatalf("snapshot: %+v", snap)
	}
	byName := map[string]Service{}
	for _, s := range snap.Services {
		byName[s.Name] = s
	}
	kv := byName["kvstore"]
	if len(byName) != 3 || kv.State != "running" || !kv.Built || !strings.HasPrefix(kv.Image, "clocal/kvstore:") || kv.Build == nil || kv.Build.OK || kv.Build.Tail[0] != "main.go:3: undefined: x" {
		t.Fatalf("kvstore: %+v", kv)
	}
	if md := byName["markdown-renderer"]; md.Pinned != "registry.example/markdown-renderer:1.4" || md.PinnedSince.IsZero() || kv.Pinned != "" {
		t.Fatalf("pins: %+v %+v", md, kv)
	}
	if !byName["repo-manager"].Requested || byName["kvstore"].Requested {
		t.Fatalf("requested: %+v", byName)
	}

	var mu sync.Mutex
	var got []devloop.Event
	changed := make(chan struct{}, 100)
	go src.Watch(ctx, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}, func(e devloop.Event) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	// The page's own events go through the stack's event log (another page reads them too).
	src.Record(devloop.Event{Kind: "action", Service: "kvstore", Action: "stop"})
	waitUntil(t, "event read back from the log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0].Action == "stop"
	})

	// Stop: through the stack (lock), held in the state so a watch leaves it stopped.
	if err := src.Act(ctx, "stop", "kvstore"); err != nil {
		t.Fatal(err)
	}
	snap, _ = src.Snapshot(ctx)
	for _, s := range snap.Services {
		if s.Name == "kvstore" && (s.State != "exited" || !s.Held) {
			t.Fatalf("after stop: %+v", s)
		}
	}
	if err := src.Act(ctx, "start", "kvstore"); err != nil {
		t.Fatal(err)
	}
	if err := src.Act(ctx, "restart", "kvstore"); err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, c := range fake.Calls() {
		if c.Method != "Ps" {
			calls = append(calls, c.Method+" "+strings.Join(c.Services, ","))
		}
	}
	if want := "Up ,Stop kvstore,Start kvstore,Wait kvstore,Restart kvstore,Wait kvstore"; strings.Join(calls, ",") != want {
		t.Fatalf("engine calls %q, want %q", strings.Join(calls, ","), want)
	}
	if state, _ := st.LoadState(); len(state.Stopped) != 0 {
		t.Fatalf("still held after start: %v", state.Stopped)
	}
	if err := src.Act(ctx, "restart", "nope"); err == nil || !strings.Contains(err.Error(), "no container") {
		t.Fatalf("restart of an unknown service: %v", err)
	}

	// The daemon going away keeps the last services and says why.
	fake.FailNext("Ps", engine.ErrDaemonUnreachable)
	snap, err = src.Snapshot(ctx)
	if err != nil || snap.Daemon == "" || len(snap.Services) != 3 {
		t.Fatalf("daemon down: %v %+v", err, snap)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStackSourceSharedHost: the pause service owning a shared production host's namespace
// is a row of its own kind; the members show their addresses (published by the pause).
func TestStackSourceSharedHost(t *testing.T) {
	st, _ := fakeStack(t, "notify")
	snap, err := NewStackSource(st, StackOptions{}).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, s := range snap.Services {
		kinds[s.Name] = s.Kind
	}
	if kinds["host-notify-1"] != "host" || kinds["email-sender"] != "service" || kinds["app-push"] != "service" {
		t.Fatalf("kinds: %v", kinds)
	}
}

// TestStackSourceWatchSeesRecords: with no container event at all, a new build record and a
// pin (kept outside the stack's folder) each make Watch say the snapshot changed: the page
// takes no periodic snapshot, so these are the only way such changes reach it.
func TestStackSourceWatchSeesRecords(t *testing.T) {
	st, _ := fakeStack(t, "repo-manager")
	src := NewStackSource(st, StackOptions{Poll: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 100)
	go src.Watch(ctx, func() { changed <- struct{}{} }, func(devloop.Event) {})
	quiet := func() { // the first look, or the last change, has been told
		t.Helper()
		for {
			select {
			case <-changed:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	told := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Watch did not say the snapshot changed", what)
		}
	}
	quiet()
	st.RecordBuild(stack.BuildRecord{Service: "kvstore", Time: time.Now(), OK: true})
	told("a build record")
	quiet()
	if err := st.SetPin("markdown-renderer", "registry.example/markdown-renderer:1.4"); err != nil {
		t.Fatal(err)
	}
	told("a pin")
	quiet()
	if err := st.SetPin("markdown-renderer", ""); err != nil {
		t.Fatal(err)
	}
	told("an unpin")
	quiet()
	select {
	case <-changed:
		t.Fatal("told of a change with nothing changed")
	case <-time.After(300 * time.Millisecond):
	}
}
