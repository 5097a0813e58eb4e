package build

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// How many builds run at once. A build has two steps that load different machines:
// build.sh compiles on this machine (CPU bound), the image build runs in the daemon
// (BuildKit: context transfer, layer export; on a naive-diff storage driver every export
// also waits for the next whole second, so image builds overlap well beyond the daemon's
// cores). Each step takes a slot of its own pool: a service whose build.sh finished
// frees its script slot for the next one while it waits for an image slot.
//
//   - script slots: the cores of this machine (runtime.NumCPU)
//   - image slots: twice the daemon's cores (its Info's NCPU; this machine's when
//     unknown)
//
// CLOCAL_BUILD_JOBS=N sets both (N >= 1); Builder.Jobs does the same in code.

// JobsFromEnv reads CLOCAL_BUILD_JOBS (0 when unset: automatic).
func JobsFromEnv() (int, error) {
	v := strings.TrimSpace(os.Getenv("CLOCAL_BUILD_JOBS"))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("CLOCAL_BUILD_JOBS=%q: want a number of parallel builds (1 or more)", v)
	}
	return n, nil
}

// slotPool is a counting semaphore sized once, on first use.
type slotPool struct {
	once sync.Once
	ch   chan struct{}
}

func (p *slotPool) acquire(ctx context.Context, size func() int) (release func(), err error) {
	p.once.Do(func() { p.ch = make(chan struct{}, max(size(), 1)) })
	select {
	case p.ch <- struct{}{}:
		return func() { <-p.ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashSlot waits for a free slot to hash a service's inputs: hashing is cheap with a warm
// stat cache, but sixty services hashed at once (a shared library changed) would each
// walk the shared tree and hold its manifest in memory at the same time.
func (b *Builder) hashSlot(ctx context.Context) (func(), error) {
	return b.hashes.acquire(ctx, func() int { return 2 * runtime.NumCPU() })
}

// scriptSlot waits for a free build.sh slot.
func (b *Builder) scriptSlot(ctx context.Context) (func(), error) {
	return b.scripts.acquire(ctx, func() int {
		if b.Jobs > 0 {
			return b.Jobs
		}
		return runtime.NumCPU()
	})
}

// imageSlot waits for a free image-build slot.
func (b *Builder) imageSlot(ctx context.Context) (func(), error) {
	return b.images.acquire(ctx, func() int {
		if b.Jobs > 0 {
			return b.Jobs
		}
		n := runtime.NumCPU()
		if b.Docker != nil {
			if info, err := b.Docker.Info(ctx); err == nil && info.NCPU > 0 {
				n = info.NCPU
			}
		}
		return 2 * n
	})
}

// Slots reports the sizes of the two pools (after first use; for doctor and tests).
func (b *Builder) Slots() (scripts, images int) {
	return cap(b.scripts.ch), cap(b.images.ch)
}
