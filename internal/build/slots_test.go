package build

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestSlotPool: a pool admits exactly its size at once; the next waits for a release or
// gives up with its context.
func TestSlotPool(t *testing.T) {
	var p slotPool
	ctx := context.Background()
	var releases []func()
	for range 3 {
		r, err := p.acquire(ctx, func() int { return 3 })
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	got := make(chan error, 1)
	go func() {
		r, err := p.acquire(ctx, func() int { return 99 }) // sized once: 3
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a fourth holder got a slot of a pool of 3 (err %v)", err)
	case <-time.After(50 * time.Millisecond): // it must still be waiting; not a timing assertion on clocal
	}
	releases[0]()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Two still held, one taken again: the pool is full.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r, err := p.acquire(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.acquire(cctx, nil); err == nil {
		t.Error("acquire on a full pool with a cancelled context succeeded")
	}
	r()
	releases[1]()
	releases[2]()
}

// TestSlotSizes: build.sh slots follow this machine's cores, image slots twice the
// daemon's; Jobs sets both.
func TestSlotSizes(t *testing.T) {
	docker := testutil.RequireDocker(t)
	info, err := docker.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := &Builder{Docker: docker}
	for _, f := range []func(context.Context) (func(), error){b.scriptSlot, b.imageSlot, b.hashSlot} {
		r, err := f(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r()
	}
	if s, i := b.Slots(); s != runtime.NumCPU() || i != 2*info.NCPU {
		t.Errorf("automatic slots = %d scripts, %d images; want %d (cores here), %d (2 × the daemon's %d)", s, i, runtime.NumCPU(), 2*info.NCPU, info.NCPU)
	}
	b = &Builder{Docker: docker, Jobs: 5}
	for _, f := range []func(context.Context) (func(), error){b.scriptSlot, b.imageSlot} {
		r, _ := f(context.Background())
		r()
	}
	if s, i := b.Slots(); s != 5 || i != 5 {
		t.Errorf("Jobs 5: slots = %d, %d; want 5, 5", s, i)
	}
	t.Setenv("CLOCAL_BUILD_JOBS", "0")
	if _, err := JobsFromEnv(); err == nil {
		t.Error("CLOCAL_BUILD_JOBS=0 accepted")
	}
	t.Setenv("CLOCAL_BUILD_JOBS", "7")
	if n, err := JobsFromEnv(); n != 7 || err != nil {
		t.Errorf("CLOCAL_BUILD_JOBS=7: %d, %v", n, err)
	}
}
