package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// lockPoll is how often a waiting clocal retries the project lock.
const lockPoll = 200 * time.Millisecond

// fileLockMode is how the project lock is held.
type fileLockMode int

const (
	fileLockExclusive fileLockMode = iota // up, down, update, start/stop/restart, a dev loop reload
	fileLockShared                        // a dev loop replacing one service
)

// errLocked is what the platform's non-blocking lock call returns when another process
// holds the lock.
var errLocked = errors.New("locked")

// ProjectStateDir is where the stack named name of the workspace at root keeps its
// generated files, state and lock: <root>/.clocal/projects/<name>.
func ProjectStateDir(root, name string) string {
	return filepath.Join(root, StateDir, "projects", name)
}

// LockProject takes the project's lock (a file lock on .clocal/projects/<name>/lock) so two
// clocal processes never change the same stack's containers at once: the second prints one
// "waiting for another clocal up" line and waits (until ctx ends). The returned func
// releases it.
func (s *Stack) LockProject(ctx context.Context) (func(), error) {
	return LockProjectAt(ctx, s.WS.Root, s.Name, s.Out)
}

// LockProjectAt is LockProject for the stack named name of the workspace at root, for the
// commands that change a stack without loading its workspace's model.
func LockProjectAt(ctx context.Context, root, name string, out io.Writer) (func(), error) {
	unlock, _, err := lockProject(ctx, root, name, out, fileLockExclusive, true)
	return unlock, err
}

// TryLockProjectAt takes the exclusive lock of the stack named name of the workspace at
// root only if it is free: ok is false when another clocal process holds it (an up, a
// watch replacing a service). Housekeeping (gc, prune) skips such a stack. A root that is
// not (or no longer) a clocal workspace has no lock to take: ok is true.
func TryLockProjectAt(root, name string) (unlock func(), ok bool, err error) {
	if root == "" {
		return func() {}, true, nil
	}
	if _, err := os.Stat(filepath.Join(root, "clocal.yaml")); err != nil {
		return func() {}, true, nil
	}
	dir := ProjectStateDir(root, name)
	_, statErr := os.Stat(dir)
	release, ok, err := lockProject(context.Background(), root, name, io.Discard, fileLockExclusive, false)
	if err != nil || !ok || statErr == nil {
		return release, ok, err
	}
	// The stack had no state folder here (its state was removed, or it was never started
	// from this workspace): leave none behind.
	return func() {
		release()
		_ = os.Remove(filepath.Join(dir, "lock"))
		_ = os.Remove(dir)
	}, true, nil
}

// RemoveStateAt forgets the stack named name of the workspace at root (after it was torn
// down by label, as prune does).
func RemoveStateAt(root, name string) {
	if root != "" && name != "" {
		stopForwardsAt(root, name) // a stack on an ssh:// host: its port forwards end too
		_ = os.RemoveAll(ProjectStateDir(root, name))
	}
}

// lockProjectShared is the lock the dev loop holds while it replaces one service: replaces
// of several services in one watch run side by side, an up or down of the project waits
// for them (and they for it).
func (s *Stack) lockProjectShared(ctx context.Context) (func(), error) {
	unlock, _, err := lockProject(ctx, s.WS.Root, s.Name, s.Out, fileLockShared, true)
	return unlock, err
}

// tryLockProject takes the lock only if it is free; ok is false when another clocal holds it.
func (s *Stack) tryLockProject() (unlock func(), ok bool, err error) {
	return lockProject(context.Background(), s.WS.Root, s.Name, s.Out, fileLockExclusive, false)
}

func lockProject(ctx context.Context, root, name string, out io.Writer, mode fileLockMode, wait bool) (func(), bool, error) {
	if out == nil {
		out = io.Discard
	}
	dir := ProjectStateDir(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("project lock: %w", err)
	}
	_ = os.Chmod(filepath.Join(root, StateDir), 0o700)
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("project lock: %w", err)
	}
	waiting := false
	for {
		err := lockFile(f, mode)
		if err == nil {
			break
		}
		if !errors.Is(err, errLocked) {
			_ = f.Close()
			return nil, false, fmt.Errorf("project lock %s: %w", path, err)
		}
		if !wait {
			_ = f.Close()
			return nil, false, nil
		}
		if !waiting {
			waiting = true
			fmt.Fprintf(out, "waiting for another clocal up on %s\n", name)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, false, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	return func() {
		unlockFile(f)
		_ = f.Close()
	}, true, nil
}
