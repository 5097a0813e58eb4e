package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/clocal-dev/clocal/internal/buildout"
)

// ChangeSet is what changed for one service during one quiet period.
type ChangeSet struct {
	Service string
	Paths   []string // absolute, sorted, deduplicated
	At      time.Time
}

// Merge returns the union of c and o (c's Service, the later At).
func (c ChangeSet) Merge(o ChangeSet) ChangeSet {
	set := make(map[string]struct{}, len(c.Paths)+len(o.Paths))
	for _, p := range c.Paths {
		set[p] = struct{}{}
	}
	for _, p := range o.Paths {
		set[p] = struct{}{}
	}
	out := ChangeSet{Service: c.Service, At: c.At, Paths: make([]string, 0, len(set))}
	if o.At.After(out.At) {
		out.At = o.At
	}
	for p := range set {
		out.Paths = append(out.Paths, p)
	}
	sort.Strings(out.Paths)
	return out
}

// Options tune a Watcher. The zero value is usable.
type Options struct {
	// Debounce is the quiet period: a service's ChangeSet is emitted once no event
	// for it arrived for this long (sliding). Default DefaultDebounce (100ms).
	Debounce time.Duration
	// MaxWait caps the wait from a service's first pending event, so a never-ending
	// stream of writes still fires. Default max(DefaultMaxWait, 4×Debounce): long enough
	// that a git checkout writing for seconds is one change set on the final tree.
	MaxWait time.Duration
	// Clock defaults to the wall clock.
	Clock Clock
	// Source defaults to NewFSSource(). The Watcher owns it and closes it.
	Source EventSource
	// Logf receives diagnostics (skipped directories, overflows). Default: discard.
	Logf func(format string, args ...any)
}

// DefaultDebounce is the default quiet period.
// 100 ms keeps clocal's share of edit → running small (the debounce is most of it) while
// still coalescing an editor's save (write, rename, chmod) and a git checkout, whose
// writes come much closer together than that; MaxWait bounds an endless stream.
const DefaultDebounce = 100 * time.Millisecond

// DefaultMaxWait is how long a stream of writes with no quiet period may go on before its
// change set is emitted anyway. A checkout of 10,000 files that takes 5 s is never quiet
// for 100 ms: a cap of a few seconds cut it in two builds, the first of a half-written
// tree.
const DefaultMaxWait = 30 * time.Second

// ErrClosed is returned by SetTargets after Close.
var ErrClosed = errors.New("watch: watcher closed")

// Watcher watches Targets and emits one ChangeSet per service per quiet period.
// Receive from Changes and Errors in a select loop; call Close when done.
type Watcher struct {
	debounce, maxWait time.Duration
	clock             Clock
	src               EventSource
	logf              func(string, ...any)

	changes chan ChangeSet
	errors  chan error
	tick    chan tickMsg
	reqs    chan request
	quit    chan struct{}
	exited  chan struct{}
	once    sync.Once

	// Owned by the loop goroutine (or by New before it starts).
	idx         *Index
	watched     map[string]struct{}            // directories added to src
	children    map[string]map[string]struct{} // parent → watched child directories
	pending     map[string]*batch
	outbox      []ChangeSet
	timer       Timer
	armed       bool
	lastPath    string
	lastOwners  []string
	limitWarned bool
	walkSeen    map[string]struct{} // during sync: directories visited
	outputs     map[string]bool     // directory -> a conventional build output (buildout)
	awaiting    []string            // folders of Files not there yet (an ancestor is watched)
}

type batch struct {
	paths       map[string]struct{}
	first, last time.Time
}

type tickMsg struct{ done chan struct{} }

type request struct {
	fn   func()
	done chan struct{}
}

// New resolves and validates targets, watches their trees and starts the Watcher.
// When New returns, every watch is in place: a change made afterwards is seen.
// A *LimitError is returned when an inotify limit is reached.
func New(targets []Target, opts Options) (*Watcher, error) {
	idx, err := prepare(targets)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		debounce: opts.Debounce,
		maxWait:  opts.MaxWait,
		clock:    opts.Clock,
		src:      opts.Source,
		logf:     opts.Logf,
		changes:  make(chan ChangeSet),
		errors:   make(chan error, 16),
		tick:     make(chan tickMsg),
		reqs:     make(chan request),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),
		idx:      idx,
		watched:  map[string]struct{}{},
		children: map[string]map[string]struct{}{},
		pending:  map[string]*batch{},
	}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	if w.maxWait <= 0 {
		w.maxWait = max(DefaultMaxWait, 4*w.debounce)
	}
	if w.maxWait < w.debounce {
		w.maxWait = w.debounce
	}
	if w.clock == nil {
		w.clock = realClock{}
	}
	if w.logf == nil {
		w.logf = func(string, ...any) {}
	}
	if w.src == nil {
		if w.src, err = NewFSSource(); err != nil {
			return nil, err
		}
	}
	if err := w.sync(); err != nil {
		w.src.Close()
		return nil, err
	}
	go w.loop()
	return w, nil
}

// prepare resolves symbolic links in roots, checks they are directories, and builds
// the Index.
func prepare(targets []Target) (*Index, error) {
	ts := make([]Target, len(targets))
	for i, t := range targets {
		ts[i] = t
		if t.Root == "" {
			continue
		}
		if !filepath.IsAbs(t.Root) {
			return nil, fmt.Errorf("watch %s: root %q is not absolute", t.Service, t.Root)
		}
		root, err := filepath.EvalSymlinks(t.Root)
		if err != nil {
			return nil, fmt.Errorf("watch %s: root: %w", t.Service, err)
		}
		fi, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("watch %s: root: %w", t.Service, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("watch %s: root %s is not a directory", t.Service, t.Root)
		}
		ts[i].Root = root
	}
	return NewIndex(ts)
}

// Changes delivers ChangeSets. It is closed by Close. A slow reader never loses
// changes: ChangeSets for a service that has not been received yet are merged.
func (w *Watcher) Changes() <-chan ChangeSet { return w.changes }

// Errors delivers non-fatal errors (a watch that could not be added, a *LimitError, a
// source error). The Watcher keeps running. It is closed by Close. Errors are dropped
// (and logged) when nobody reads them.
func (w *Watcher) Errors() <-chan error { return w.errors }

// SetTargets replaces the targets: watches are added for new roots and files and
// dropped for removed ones; pending changes of removed services are discarded. It
// re-walks the trees. On a validation error nothing changes.
func (w *Watcher) SetTargets(targets []Target) error {
	idx, err := prepare(targets)
	if err != nil {
		return err
	}
	var result error
	ok := w.do(func() {
		w.idx = idx
		w.lastPath, w.lastOwners = "", nil
		w.limitWarned = false
		keep := map[string]bool{}
		for _, s := range idx.Services() {
			keep[s] = true
		}
		for s := range w.pending {
			if !keep[s] {
				delete(w.pending, s)
			}
		}
		out := w.outbox[:0]
		for _, cs := range w.outbox {
			if keep[cs.Service] {
				out = append(out, cs)
			}
		}
		w.outbox = out
		result = w.sync()
	})
	if !ok {
		return ErrClosed
	}
	return result
}

// Close stops the Watcher, releases every watch and closes Changes and Errors.
// Pending changes are dropped. It is safe to call more than once.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		close(w.quit)
		<-w.exited
		err = w.src.Close()
	})
	return err
}

// do runs fn on the loop goroutine and waits; false when the Watcher is closed.
func (w *Watcher) do(fn func()) bool {
	r := request{fn: fn, done: make(chan struct{})}
	select {
	case w.reqs <- r:
	case <-w.quit:
		return false
	}
	<-r.done
	return true
}

func (w *Watcher) loop() {
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
		close(w.changes)
		close(w.errors)
		close(w.exited)
	}()
	events, errs := w.src.Events(), w.src.Errors()
	for {
		var out chan ChangeSet
		var next ChangeSet
		if len(w.outbox) > 0 {
			out, next = w.changes, w.outbox[0]
		}
		select {
		case <-w.quit:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				w.report(errors.New("watch: event source closed"))
				continue
			}
			w.handle(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.handleError(err)
		case t := <-w.tick:
			w.armed = false
			w.flushDue()
			close(t.done)
		case r := <-w.reqs:
			r.fn()
			close(r.done)
		case out <- next:
			w.outbox[0] = ChangeSet{}
			w.outbox = w.outbox[1:]
		}
	}
}

// handle processes one event.
func (w *Watcher) handle(ev Event) {
	if ev.Op == 0 || ev.Path == "" {
		return
	}
	p := filepath.Clean(ev.Path)
	if buildout.Candidate(filepath.Base(p)) || isMarker(filepath.Base(p)) {
		w.outputs = nil // a project file or output folder came or went: look again
	}
	if w.underOutput(p) {
		return // written by a build tool (gradle's build/, maven's target/...), not a source
	}
	if ev.Op&(OpRemove|OpRename) != 0 {
		w.dropTree(p)
		if w.idx.isRoot(p) {
			w.logf("watch: root %s was removed or moved: it is no longer watched (set the targets again once it is back)", p)
		}
	}
	if ev.Op&OpCreate != 0 && w.awaitsDir(p) {
		// A folder on the way to a File's folder that was missing (mkdir -p).
		if err := w.fileDirs(true); err != nil {
			w.report(err)
		}
	}
	if ev.Op&OpCreate != 0 {
		if _, ok := w.watched[p]; !ok && w.idx.WatchDir(p) {
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				// The directory's content may predate the watch: walk it and report
				// what is already there.
				if err := w.walk(p, true); err != nil {
					w.report(err)
				}
			}
		}
	}
	if ev.Op&(OpCreate|OpWrite|OpRemove|OpRename) != 0 {
		w.record(p)
	}
}

func (w *Watcher) handleError(err error) {
	if errors.Is(err, ErrOverflow) {
		w.logf("watch: event queue overflow: rescanning, every service is considered changed")
		if err := w.sync(); err != nil {
			w.report(err)
		}
		for _, t := range w.idx.targets {
			if t.Root != "" {
				w.recordFor(t.Service, t.Root)
			}
			for _, f := range t.Files {
				if !w.idx.IsOutput(f) {
					w.recordFor(t.Service, f)
				}
			}
		}
		return
	}
	w.report(err)
}

// report sends err on Errors without blocking. Limit errors are sent once until the
// targets are set again.
func (w *Watcher) report(err error) {
	var le *LimitError
	if errors.As(err, &le) {
		if w.limitWarned {
			return
		}
		w.limitWarned = true
	}
	select {
	case w.errors <- err:
	default:
		w.logf("watch: error dropped (nobody reading Errors): %v", err)
	}
}

// record adds path to the pending batch of every service owning it.
func (w *Watcher) record(p string) {
	if p != w.lastPath {
		w.lastPath, w.lastOwners = p, w.idx.Owners(p)
	}
	for _, s := range w.lastOwners {
		w.recordFor(s, p)
	}
}

func (w *Watcher) recordFor(service, p string) {
	now := w.clock.Now()
	b := w.pending[service]
	if b == nil {
		b = &batch{paths: map[string]struct{}{}, first: now}
		w.pending[service] = b
	}
	b.paths[p] = struct{}{}
	b.last = now
	w.arm(now)
}

// StreamQuietMax bounds the quiet period of a long stream of writes (quiet).
const StreamQuietMax = time.Second

// streamPaths is how many paths make a batch a stream of writes from its start (quiet).
const streamPaths = 32

// quiet is the quiet period that ends batch b: the debounce, or for a stream of writes that
// has gone on for longer (a git checkout, a code generator) a quarter of its length, up to
// StreamQuietMax; a batch of many paths waits at least 4 debounces. A checkout of 10,000
// files over 5 s stalls now and then on a loaded machine (the disk, the scheduler): a stall
// of a few debounces in it is not its end, and cutting it there builds a half-written tree,
// then the rest. A single save is unchanged.
func (w *Watcher) quiet(b *batch) time.Duration {
	q := w.debounce
	if len(b.paths) >= streamPaths {
		q = max(q, 4*w.debounce) // no editor saves this many files at once
	}
	if span := b.last.Sub(b.first); span > q {
		q = max(q, min(span/4, StreamQuietMax))
	}
	return q
}

func (w *Watcher) deadline(b *batch) time.Time {
	d := b.last.Add(w.quiet(b))
	if c := b.first.Add(w.maxWait); c.Before(d) {
		return c
	}
	return d
}

// arm schedules a tick for the earliest deadline, unless one is already scheduled:
// deadlines only move later as events arrive, so an armed tick can only be early, and
// flushDue re-arms. This keeps one timer for any number of events.
func (w *Watcher) arm(now time.Time) {
	if w.armed || len(w.pending) == 0 {
		return
	}
	var earliest time.Time
	for _, b := range w.pending {
		if d := w.deadline(b); earliest.IsZero() || d.Before(earliest) {
			earliest = d
		}
	}
	w.armed = true
	w.timer = w.clock.AfterFunc(earliest.Sub(now), w.fire)
}

// fire runs on the timer's goroutine: hand the tick to the loop and wait until it
// is processed (so FakeClock.Advance returns after the effects of the tick).
func (w *Watcher) fire() {
	t := tickMsg{done: make(chan struct{})}
	select {
	case w.tick <- t:
	case <-w.quit:
		return
	}
	select {
	case <-t.done:
	case <-w.quit:
	}
}

// flushDue moves the batches whose deadline has passed to the outbox.
func (w *Watcher) flushDue() {
	now := w.clock.Now()
	var due []string
	for s, b := range w.pending {
		if !w.deadline(b).After(now) {
			due = append(due, s)
		}
	}
	sort.Strings(due)
	for _, s := range due {
		b := w.pending[s]
		delete(w.pending, s)
		cs := ChangeSet{Service: s, At: now, Paths: make([]string, 0, len(b.paths))}
		for p := range b.paths {
			cs.Paths = append(cs.Paths, p)
		}
		sort.Strings(cs.Paths)
		w.enqueue(cs)
	}
	w.arm(now)
}

// enqueue adds cs to the outbox, merging it into an undelivered ChangeSet of the same
// service: a slow consumer sees one ChangeSet per service, never a growing queue.
func (w *Watcher) enqueue(cs ChangeSet) {
	for i := range w.outbox {
		if w.outbox[i].Service == cs.Service {
			w.outbox[i] = w.outbox[i].Merge(cs)
			return
		}
	}
	w.outbox = append(w.outbox, cs)
}

// sync walks every root and adds watches to the wanted directories and the parents of
// Files; it drops the watches no longer wanted. It returns a *LimitError if the kernel
// refuses a watch, after which it stops adding.
func (w *Watcher) sync() error {
	w.walkSeen = map[string]struct{}{}
	defer func() { w.walkSeen = nil }()
	var err error
	for _, root := range w.idx.Roots() {
		if _, done := w.walkSeen[root]; done {
			continue
		}
		if err = w.walk(root, false); err != nil {
			break
		}
	}
	if err == nil {
		err = w.fileDirs(false)
	}
	if err != nil {
		return err
	}
	var stale []string
	for d := range w.watched {
		if _, ok := w.walkSeen[d]; !ok {
			stale = append(stale, d)
		}
	}
	for _, d := range stale {
		w.removeDir(d)
	}
	return nil
}

// fileDirs adds watches to the folders of the targets' Files. A folder that is not there
// (yet) has its nearest existing ancestor watched instead, so that its creation is seen
// (handle calls fileDirs again); with emit, the Files found in a folder watched now are
// recorded as changed (they may have been written before the watch). Only a *LimitError is
// returned.
func (w *Watcher) fileDirs(emit bool) error {
	defer func() {
		w.awaiting = w.awaiting[:0]
		for _, fd := range w.idx.FileDirs() {
			if _, ok := w.watched[fd]; !ok {
				w.awaiting = append(w.awaiting, fd)
			}
		}
	}()
	for _, dir := range w.idx.FileDirs() {
		for d := dir; ; {
			if w.walkSeen != nil {
				if _, done := w.walkSeen[d]; done {
					break
				}
			}
			_, had := w.watched[d]
			err := w.addDir(d)
			if err == nil {
				if w.walkSeen != nil {
					w.walkSeen[d] = struct{}{}
				}
				if emit && !had && d == dir {
					w.recordFilesIn(dir)
				}
				break
			}
			if le := limitError(err); le != nil {
				return le
			}
			parent := filepath.Dir(d)
			if !errors.Is(err, fs.ErrNotExist) || parent == d {
				w.logf("watch: cannot watch %s (files in it will not be seen): %v", d, err)
				break
			}
			d = parent
		}
	}
	return nil
}

// recordFilesIn records the targets' Files in dir that exist.
func (w *Watcher) recordFilesIn(dir string) {
	for _, t := range w.idx.targets {
		for _, f := range t.Files {
			if filepath.Dir(f) == dir && !w.idx.IsOutput(f) {
				if _, err := os.Lstat(f); err == nil {
					w.recordFor(t.Service, f)
				}
			}
		}
	}
}

// awaitsDir reports whether dir is, or is an ancestor of, the folder of a File that is not
// watched yet.
func (w *Watcher) awaitsDir(dir string) bool {
	for _, fd := range w.awaiting {
		if within(fd, dir) {
			return true
		}
	}
	return false
}

// walk adds watches to dir and every wanted directory below it (each watch is added
// before the directory is listed, so nothing created meanwhile is missed). With emit,
// every entry found is recorded as changed. It returns a *LimitError only; other errors
// (a directory that vanished or cannot be read) are logged and the walk goes on.
func (w *Watcher) walk(dir string, emit bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// Vanished or unreadable: log and go on (WalkDir skips an unreadable
			// directory's content by itself).
			if !errors.Is(err, fs.ErrNotExist) {
				w.logf("watch: skip %s: %v", p, err)
			}
			return nil
		}
		if !d.IsDir() {
			if emit {
				w.record(p)
			}
			return nil
		}
		if p != dir && (!w.idx.WatchDir(p) || w.isOutput(p)) {
			return fs.SkipDir
		}
		if w.walkSeen != nil {
			if _, done := w.walkSeen[p]; done {
				return fs.SkipDir
			}
			w.walkSeen[p] = struct{}{}
		}
		if emit && p != dir {
			w.record(p)
		}
		if _, ok := w.watched[p]; ok && emit {
			return fs.SkipDir // already watched: its content is being reported
		}
		if err := w.addDir(p); err != nil {
			if le := limitError(err); le != nil {
				w.logf("watch: %s: %v", p, le)
				return le
			}
			if !errors.Is(err, fs.ErrNotExist) {
				w.logf("watch: cannot watch %s: %v", p, err)
			}
			return fs.SkipDir
		}
		return nil
	})
}

func (w *Watcher) addDir(dir string) error {
	if _, ok := w.watched[dir]; ok {
		return nil
	}
	if err := w.src.Add(dir); err != nil {
		return err
	}
	w.watched[dir] = struct{}{}
	parent := filepath.Dir(dir)
	c := w.children[parent]
	if c == nil {
		c = map[string]struct{}{}
		w.children[parent] = c
	}
	c[dir] = struct{}{}
	return nil
}

func (w *Watcher) removeDir(dir string) {
	if _, ok := w.watched[dir]; !ok {
		return
	}
	// The kernel may already have dropped it (directory deleted): ignore errors.
	_ = w.src.Remove(dir)
	delete(w.watched, dir)
	parent := filepath.Dir(dir)
	if c := w.children[parent]; c != nil {
		delete(c, dir)
		if len(c) == 0 {
			delete(w.children, parent)
		}
	}
}

// isOutput reports whether dir is a conventional build output folder (cached).
func (w *Watcher) isOutput(dir string) bool {
	if !buildout.Candidate(filepath.Base(dir)) {
		return false
	}
	if w.outputs == nil {
		w.outputs = map[string]bool{}
	}
	out, ok := w.outputs[dir]
	if !ok {
		out = buildout.IsOutput(dir)
		w.outputs[dir] = out
	}
	return out
}

// underOutput reports whether p is in (or is) a conventional build output folder below one
// of the roots.
func (w *Watcher) underOutput(p string) bool {
	for d := p; ; {
		if w.idx.isRoot(d) {
			return false
		}
		if w.isOutput(d) {
			return true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}

// isMarker reports whether base names a build tool's project file (buildout.Rules).
func isMarker(base string) bool {
	for _, r := range buildout.Rules {
		for _, m := range r.Markers {
			if m == base || (strings.HasPrefix(m, "*") && strings.HasSuffix(base, m[1:])) {
				return true
			}
		}
	}
	return false
}

// dropTree drops the watches of p and of every watched directory below it.
func (w *Watcher) dropTree(p string) {
	for c := range w.children[p] {
		w.dropTree(c)
	}
	w.removeDir(p)
}
