package watch

import (
	"errors"
	"sort"
	"sync"
	"time"
)

// FakeClock is a manual Clock for tests. Timers fire, synchronously and in deadline
// order, when Advance moves time past them.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *FakeClock
	when time.Time
	f    func()
}

// NewFakeClock returns a FakeClock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d; it runs during a later Advance.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves time forward by d, running every timer that falls due (including
// timers scheduled by those), each with Now() at its deadline. With a Watcher it
// returns once the Watcher has handled the resulting ticks.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].when.Before(c.timers[j].when) })
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// Timers returns how many timers are scheduled.
func (c *FakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// FakeSource is an in-memory EventSource for tests: it records watched directories and
// delivers the events and errors a test sends.
type FakeSource struct {
	mu      sync.Mutex
	events  chan Event
	errs    chan error
	done    chan struct{}
	closed  bool
	watches map[string]bool
	addErr  func(dir string) error
	adds    int
}

// NewFakeSource returns an empty FakeSource.
func NewFakeSource() *FakeSource {
	return &FakeSource{
		events:  make(chan Event),
		errs:    make(chan error),
		done:    make(chan struct{}),
		watches: map[string]bool{},
	}
}

// Add records a watch on dir (or returns the error injected with FailAdd).
func (f *FakeSource) Add(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("fake source closed")
	}
	if f.addErr != nil {
		if err := f.addErr(dir); err != nil {
			return err
		}
	}
	f.watches[dir] = true
	f.adds++
	return nil
}

// Remove drops the watch on dir.
func (f *FakeSource) Remove(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.watches[dir] {
		return errors.New("fake source: no watch on " + dir)
	}
	delete(f.watches, dir)
	return nil
}

// Events implements EventSource.
func (f *FakeSource) Events() <-chan Event { return f.events }

// Errors implements EventSource.
func (f *FakeSource) Errors() <-chan error { return f.errs }

// Close drops every watch. Sends after Close are discarded.
func (f *FakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.watches = map[string]bool{}
		close(f.done)
	}
	return nil
}

// FailAdd makes Add return fn(dir) when it is not nil (fault injection).
func (f *FakeSource) FailAdd(fn func(dir string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addErr = fn
}

// Watches returns the watched directories, sorted.
func (f *FakeSource) Watches() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.watches))
	for d := range f.watches {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Adds returns how many successful Add calls were made.
func (f *FakeSource) Adds() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.adds
}

// Send delivers evs and returns once the consumer (a Watcher) has handled them all.
func (f *FakeSource) Send(evs ...Event) {
	for _, ev := range evs {
		if !f.send(ev) {
			return
		}
	}
	f.Sync()
}

// Sync returns once the consumer has handled everything sent before.
func (f *FakeSource) Sync() { f.send(Event{}) } // an empty event is a barrier

func (f *FakeSource) send(ev Event) bool {
	select {
	case f.events <- ev:
		return true
	case <-f.done:
		return false
	}
}

// SendError delivers err and returns once the consumer has handled it.
func (f *FakeSource) SendError(err error) {
	select {
	case f.errs <- err:
		f.Sync()
	case <-f.done:
	}
}
