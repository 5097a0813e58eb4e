package watch

import (
	"errors"
	"fmt"

	"github.com/fsnotify/fsnotify"
)

// Op is a set of file operations.
type Op uint32

// Operations carried by an Event.
const (
	OpCreate Op = 1 << iota // created, or moved into a watched directory
	OpWrite                 // written
	OpRemove                // removed
	OpRename                // renamed or moved away
	OpChmod                 // attributes changed (not a change to the content)
)

func (o Op) String() string {
	if o == 0 {
		return "none"
	}
	var s string
	for _, x := range []struct {
		op   Op
		name string
	}{{OpCreate, "create"}, {OpWrite, "write"}, {OpRemove, "remove"}, {OpRename, "rename"}, {OpChmod, "chmod"}} {
		if o&x.op != 0 {
			if s != "" {
				s += "|"
			}
			s += x.name
		}
	}
	return s
}

// Event is one file-system event. An Event with Op 0 carries nothing and is ignored by
// the Watcher (FakeSource uses it as a barrier).
type Event struct {
	Path string // absolute
	Op   Op
}

// ErrOverflow is sent on an EventSource's Errors when events were lost.
var ErrOverflow = errors.New("watch: event queue overflow, events were lost")

// EventSource delivers events for directories added to it, non-recursively (like
// inotify): events for the directory's direct entries and for itself. The Watcher calls
// Add and Remove from a single goroutine. Close releases every watch and closes the
// Events and Errors channels.
type EventSource interface {
	Add(dir string) error
	Remove(dir string) error
	Events() <-chan Event
	Errors() <-chan error
	Close() error
}

// fsSource is the fsnotify-backed EventSource.
type fsSource struct {
	w      *fsnotify.Watcher
	events chan Event
	errs   chan error
	done   chan struct{}
	exited chan struct{}
}

// NewFSSource returns the real EventSource (inotify on Linux). An inotify instance limit
// is reported as a *LimitError.
func NewFSSource() (EventSource, error) {
	// A roomy buffer between the kernel reader and the Watcher keeps the kernel queue
	// from overflowing during bursts (git checkout).
	w, err := fsnotify.NewBufferedWatcher(4096)
	if err != nil {
		if le := limitError(err); le != nil {
			return nil, le
		}
		return nil, fmt.Errorf("watch: start file watcher: %w", err)
	}
	s := &fsSource{
		w:      w,
		events: make(chan Event, 1024),
		errs:   make(chan error, 16),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go s.pump()
	return s, nil
}

func (s *fsSource) pump() {
	defer func() {
		close(s.events)
		close(s.errs)
		close(s.exited)
	}()
	in, errs := s.w.Events, s.w.Errors
	for in != nil || errs != nil {
		select {
		case <-s.done:
			return
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			out := Event{Path: ev.Name, Op: convertOp(ev.Op)}
			if out.Op == 0 {
				continue
			}
			select {
			case s.events <- out:
			case <-s.done:
				return
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				err = ErrOverflow
			}
			select {
			case s.errs <- err:
			case <-s.done:
				return
			}
		}
	}
}

func convertOp(o fsnotify.Op) Op {
	var out Op
	if o.Has(fsnotify.Create) {
		out |= OpCreate
	}
	if o.Has(fsnotify.Write) {
		out |= OpWrite
	}
	if o.Has(fsnotify.Remove) {
		out |= OpRemove
	}
	if o.Has(fsnotify.Rename) {
		out |= OpRename
	}
	if o.Has(fsnotify.Chmod) {
		out |= OpChmod
	}
	return out
}

func (s *fsSource) Add(dir string) error {
	if err := s.w.Add(dir); err != nil {
		if le := limitError(err); le != nil {
			return le
		}
		return err
	}
	return nil
}

func (s *fsSource) Remove(dir string) error { return s.w.Remove(dir) }
func (s *fsSource) Events() <-chan Event    { return s.events }
func (s *fsSource) Errors() <-chan error    { return s.errs }

// Close closes the inotify file descriptor, which releases every watch at once.
func (s *fsSource) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	err := s.w.Close()
	<-s.exited
	return err
}
