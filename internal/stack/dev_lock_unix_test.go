//go:build unix

package stack

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/devloop"
)

// TestDevAfterDown: a clocal down (another process: the project lock, then the state
// removed) ends the dev loop's changes instead of bringing single services back. A replace
// that waited for the down's lock finds the state gone, touches no container and leaves no
// project folder behind; supervise reports the stack gone.
func TestDevAfterDown(t *testing.T) {
	ctx := context.Background()
	d, f := startDev(t)
	other := New(d.St.WS, d.St.Name, f, nil, nil) // the down's process

	unlock, err := other.LockProject(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var report []devloop.Event
	down := false
	// while the down holds the lock, supervise does nothing (not even look)
	if err := d.superviseOnce(ctx, &down, func(e devloop.Event) { report = append(report, e) }); err != nil || len(f.Calls()) != 0 {
		t.Fatalf("supervise under another's lock: err %v, calls %+v", err, f.Calls())
	}
	replaced := make(chan error, 1)
	go func() { replaced <- d.Replace(ctx, "search-2", "search:dev") }()
	select {
	case err := <-replaced:
		t.Fatalf("Replace did not wait for the project lock: %v", err)
	case <-time.After(3 * lockPoll):
	}
	other.RemoveState()
	unlock()
	select {
	case err = <-replaced:
	case <-time.After(10 * time.Second):
		t.Fatal("Replace still waiting after the lock was released")
	}
	if !errors.Is(err, devloop.ErrStackGone) || !strings.Contains(err.Error(), "dev was taken down") {
		t.Errorf("Replace after down: %v", err)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("engine calls after down: %+v", f.Calls())
	}
	if _, err := os.Stat(d.St.ProjectDir()); !os.IsNotExist(err) {
		t.Errorf("project folder after down: %v", err)
	}
	if err := d.superviseOnce(ctx, &down, func(e devloop.Event) { report = append(report, e) }); !errors.Is(err, devloop.ErrStackGone) {
		t.Errorf("supervise after down: %v", err)
	}
	if _, err := d.Reload(ctx); !errors.Is(err, devloop.ErrStackGone) {
		t.Errorf("Reload after down: %v", err)
	}
	if len(f.Calls()) != 0 || len(report) != 0 {
		t.Errorf("after down: calls %+v, events %+v", f.Calls(), report)
	}
	if err := d.Supervise(ctx, time.Millisecond, func(devloop.Event) {}); !errors.Is(err, devloop.ErrStackGone) {
		t.Errorf("Supervise after down = %v", err)
	}
}

// TestSharedProjectLock: replaces of several services hold the lock side by side; an
// exclusive lock (up, down) waits for them.
func TestSharedProjectLock(t *testing.T) {
	ws := LoadFixture(t, nil)
	a, b := New(ws, "shared", nil, nil, nil), New(ws, "shared", nil, nil, nil)
	ua, err := a.lockProjectShared(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ub, err := b.lockProjectShared(ctx)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, free, err := New(ws, "shared", nil, nil, nil).tryLockProject(); free || err != nil {
		t.Errorf("exclusive lock taken beside shared holders (free %v, err %v)", free, err)
	}
	ua()
	ub()
	u, free, err := New(ws, "shared", nil, nil, nil).tryLockProject()
	if !free || err != nil {
		t.Fatalf("exclusive lock after release: free %v, err %v", free, err)
	}
	u()
}
