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

// lockForwards serialises changes to the stack's port forwards across clocal processes
// (an up, a ps and a watch may all refresh them).
func (s *Stack) lockForwards(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(s.ProjectDir(), 0o700); err != nil {
		return nil, fmt.Errorf("forwards lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.ProjectDir(), "forwards.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("forwards lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("forwards lock: %w", err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
