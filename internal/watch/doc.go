// Package watch turns file-system events into debounced, per-service ChangeSets.
//
// A Watcher watches a set of Targets. Each Target belongs to one service and names a
// source Root (watched recursively), extra single Files (build.sh, Dockerfile,
// service.yaml, job files, the profile...), .dockerignore-style Ignore patterns relative
// to Root, and the Outputs its build writes.
//
// Events flow as values: an EventSource (fsnotify by default, FakeSource in tests) yields
// Events; the Watcher maps each path to the services owning it (Index, a pure type),
// keeps a pending set per service and, once that service has been quiet for
// Options.Debounce (sliding window, capped by Options.MaxWait so an endless stream of
// writes still fires), emits exactly one ChangeSet for it. A `git checkout` touching ten
// thousand files yields one ChangeSet per affected service and none for the others.
// All timing goes through a Clock (FakeClock in tests).
//
// Usage:
//
//	w, err := watch.New(targets, watch.Options{Logf: logf})
//	if err != nil {
//		return err // a *watch.LimitError tells how to raise the inotify limit
//	}
//	defer w.Close()
//	var q watch.Coalescer
//	for {
//		select {
//		case cs := <-w.Changes():
//			if cs, start := q.Offer(cs); start {
//				go rebuild(cs) // when done: if next, again := q.Done(cs.Service); again { rebuild(next) }
//			}
//		case err := <-w.Errors():
//			logf("watch: %v", err)
//		case <-ctx.Done():
//			return nil
//		}
//	}
//
// New returns once every watch is in place; it starts the Watcher's goroutine.
// SetTargets swaps the targets of a running Watcher (services added or removed).
//
// # What is never watched or reported
//
// Directories that are ignored are not even watched (no inotify watch is added under
// them), unless a "!" exception pattern could match something inside them. Ignored for
// every target:
//
//   - version-control directories anywhere in the tree: .git, .hg, .svn, .jj
//   - editor and OS temporary files (matched on the base name): *.swp *.swo *.swn *.swx
//     (vim swap files and vim's probe), 4913 (vim's write probe), *~ (backups), .#*
//     (emacs lock files), #*# (emacs auto-save), *___jb_tmp___ and *___jb_old___
//     (JetBrains safe write), *.kate-swp, .goutputstream-* (GNOME), .DS_Store
//   - every target's Outputs (a path the build writes is never a source: this is what
//     breaks the build → event → build loop). Outputs are ignored for all targets, not
//     only the one that declares them, and they override Files.
//
// "*.tmp" is deliberately not in the list: a source may be named so. Add it to a
// target's Ignore if needed. Chmod-only events (touch on attributes, indexers,
// anti-virus) are not changes. Symbolic links to directories are not followed.
//
// Ignore patterns use github.com/moby/patternmatcher with .dockerignore semantics:
// "*.md" matches at the top of Root only ("**/*.md" anywhere), "dir/" ignores a
// directory and all it holds, "!pattern" re-includes, the last matching pattern wins.
// Files listed in Target.Files are always reported (they are explicit), unless they are
// also an Output.
//
// # Files
//
// A single file is watched through its parent directory (non-recursively) so that
// editors that save by renaming a new file over the old one keep being seen. The parent
// must exist when the targets are set.
//
// # inotify limits
//
// When the kernel refuses a watch (ENOSPC: fs.inotify.max_user_watches) or an inotify
// instance (EMFILE: fs.inotify.max_user_instances) the error is a *LimitError whose
// message is one line naming the setting, its current value and the sysctl command that
// raises it. InotifyLimits reports both values for a doctor command.
//
// # Overflow
//
// If the kernel event queue overflows, the Watcher cannot know what changed: it rescans
// the trees (adding watches for directories it missed) and emits a ChangeSet for every
// service, whose Paths are the target's Root and Files. Builds are content-hashed, so
// unchanged services are cheap to "rebuild".
package watch
