//go:build unix

package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockPoll is how often a waiting up retries the project lock.
const lockPoll = 200 * time.Millisecond

// LockProject takes the project's lock (an flock on .clocal/projects/<name>/lock) so two
// clocal processes never converge the same stack at once: the second prints one "waiting for
// another clocal up" line and waits (until ctx ends). The returned func releases it.
func (s *Stack) LockProject(ctx context.Context) (func(), error) {
	unlock, _, err := s.lockProject(ctx, syscall.LOCK_EX, true)
	return unlock, err
}

// lockProjectShared is the lock the dev loop holds while it replaces one service: replaces
// of several services in one watch run side by side, an up or down of the project waits
// for them (and they for it).
func (s *Stack) lockProjectShared(ctx context.Context) (func(), error) {
	unlock, _, err := s.lockProject(ctx, syscall.LOCK_SH, true)
	return unlock, err
}

// tryLockProject takes the lock only if it is free; ok is false when another clocal holds it.
func (s *Stack) tryLockProject() (unlock func(), ok bool, err error) {
	return s.lockProject(context.Background(), syscall.LOCK_EX, false)
}

func (s *Stack) lockProject(ctx context.Context, how int, wait bool) (func(), bool, error) {
	dir := s.ProjectDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("project lock: %w", err)
	}
	_ = os.Chmod(filepath.Join(s.WS.Root, StateDir), 0o700)
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("project lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, false, fmt.Errorf("project lock %s: %w", path, err)
		}
		if !wait {
			_ = f.Close()
			return nil, false, nil
		}
		if !waiting {
			waiting = true
			fmt.Fprintf(s.Out, "waiting for another clocal up on %s\n", s.Name)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, false, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, true, nil
}
