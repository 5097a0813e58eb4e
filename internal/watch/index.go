package watch

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Target is what one service watches.
type Target struct {
	// Service is the name of the service. A service may have several Targets (its source
	// tree and extra input trees, e.g. a shared library folder): changes under any of them
	// are reported for the service, in one ChangeSet.
	Service string
	// Root is an absolute directory watched recursively ("" for none). The Watcher
	// resolves symbolic links in it: reported paths are below the resolved root.
	Root string
	// Files are absolute paths of extra single files (build.sh, Dockerfile,
	// service.yaml, job files, profile). They may live anywhere.
	Files []string
	// Ignore holds .dockerignore-syntax patterns relative to Root.
	Ignore []string
	// Outputs are absolute paths (files or directories) the build writes. They are
	// never watched nor reported, for any target.
	Outputs []string
}

// vcsDirs are directory names never watched, anywhere in a tree.
var vcsDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, ".jj": true}

// tempFilePatterns are filepath.Match patterns applied to a path's base name.
var tempFilePatterns = []string{
	"*.swp", "*.swo", "*.swn", "*.swx", // vim swap files and probe
	"4913",                           // vim's write probe
	"*~",                             // vim/emacs backups
	".#*",                            // emacs lock files
	"#*#",                            // emacs auto-save files
	"*___jb_tmp___", "*___jb_old___", // JetBrains safe write
	"*.kate-swp",       // Kate
	".goutputstream-*", // GNOME
	".DS_Store",        // macOS Finder
}

// DefaultIgnores returns the built-in ignore list, for display (doctor, docs):
// version-control directories then editor temporary file patterns.
func DefaultIgnores() []string {
	var out []string
	for d := range vcsDirs {
		out = append(out, d+"/")
	}
	sort.Strings(out)
	return append(out, tempFilePatterns...)
}

// isTempFile reports whether base is an editor or OS temporary file name.
func isTempFile(base string) bool {
	for _, p := range tempFilePatterns {
		if ok, _ := filepath.Match(p, base); ok {
			return true
		}
	}
	return false
}

// hasVCSComponent reports whether a slash-separated relative path has a VCS directory
// as one of its components.
func hasVCSComponent(rel string) bool {
	for rel != "" {
		i := strings.IndexByte(rel, '/')
		if i < 0 {
			return vcsDirs[rel]
		}
		if vcsDirs[rel[:i]] {
			return true
		}
		rel = rel[i+1:]
	}
	return false
}

// Index maps paths to the services that own them and decides which directories are
// worth watching. It is pure: it never touches the file system. It is safe for
// concurrent use.
type Index struct {
	mu      sync.Mutex // patternmatcher is not safe for concurrent use
	targets []*compiledTarget
	outputs []string
}

type compiledTarget struct {
	Target
	files map[string]bool
	pm    *patternmatcher.PatternMatcher // nil when no Ignore patterns
	// exceptPrefixes are the literal prefixes (up to the first wildcard) of the "!"
	// patterns: an ignored directory is still walked when one may match inside it.
	exceptPrefixes []string
}

// NewIndex validates and compiles targets. Paths must be absolute; Service names must be
// non-empty; patterns must be valid.
func NewIndex(targets []Target) (*Index, error) {
	ix := &Index{}
	for _, t := range targets {
		if t.Service == "" {
			return nil, errors.New("watch: target with empty service name")
		}
		ct := &compiledTarget{files: map[string]bool{}}
		ct.Service = t.Service
		if t.Root != "" {
			if !filepath.IsAbs(t.Root) {
				return nil, fmt.Errorf("watch %s: root %q is not absolute", t.Service, t.Root)
			}
			ct.Root = filepath.Clean(t.Root)
		}
		for _, f := range t.Files {
			if !filepath.IsAbs(f) {
				return nil, fmt.Errorf("watch %s: file %q is not absolute", t.Service, f)
			}
			f = filepath.Clean(f)
			if !ct.files[f] {
				ct.files[f] = true
				ct.Files = append(ct.Files, f)
			}
		}
		sort.Strings(ct.Files)
		for _, o := range t.Outputs {
			if !filepath.IsAbs(o) {
				return nil, fmt.Errorf("watch %s: output %q is not absolute", t.Service, o)
			}
			o = filepath.Clean(o)
			ct.Outputs = append(ct.Outputs, o)
			ix.outputs = append(ix.outputs, o)
		}
		ct.Ignore = append([]string(nil), t.Ignore...)
		if len(t.Ignore) > 0 {
			// Normalize like a .dockerignore file: comments, whitespace, Clean,
			// leading "/" removed.
			patterns, err := ignorefile.ReadAll(strings.NewReader(strings.Join(t.Ignore, "\n")))
			if err != nil {
				return nil, fmt.Errorf("watch %s: ignore patterns: %w", t.Service, err)
			}
			pm, err := patternmatcher.New(patterns)
			if err != nil {
				return nil, fmt.Errorf("watch %s: ignore patterns: %w", t.Service, err)
			}
			ct.pm = pm
			for _, p := range pm.Patterns() {
				if p.Exclusion() {
					s := filepath.ToSlash(p.String())
					if i := strings.IndexAny(s, `*?[\`); i >= 0 {
						s = s[:i]
					}
					ct.exceptPrefixes = append(ct.exceptPrefixes, s)
				}
			}
		}
		ix.targets = append(ix.targets, ct)
	}
	sort.Strings(ix.outputs)
	return ix, nil
}

// Targets returns the compiled (cleaned) targets, in the order given.
func (ix *Index) Targets() []Target {
	out := make([]Target, len(ix.targets))
	for i, t := range ix.targets {
		out[i] = t.Target
		out[i].Files = append([]string(nil), t.Files...)
		out[i].Outputs = append([]string(nil), t.Outputs...)
		out[i].Ignore = append([]string(nil), t.Ignore...)
	}
	return out
}

// Services returns the service names, in the order given, each once.
func (ix *Index) Services() []string {
	out := make([]string, 0, len(ix.targets))
	seen := make(map[string]bool, len(ix.targets))
	for _, t := range ix.targets {
		if !seen[t.Service] {
			seen[t.Service] = true
			out = append(out, t.Service)
		}
	}
	return out
}

// within reports whether p is dir or below it (both clean and absolute).
func within(p, dir string) bool {
	if !strings.HasPrefix(p, dir) {
		return false
	}
	return len(p) == len(dir) || dir == "/" || p[len(dir)] == '/'
}

// relTo returns p relative to dir (p within dir), slash-separated; "." for dir itself.
func relTo(p, dir string) string {
	if len(p) == len(dir) {
		return "."
	}
	if dir == "/" {
		return filepath.ToSlash(p[1:])
	}
	return filepath.ToSlash(p[len(dir)+1:])
}

// IsOutput reports whether path is, or is inside, an Output of any target.
func (ix *Index) IsOutput(path string) bool {
	// outputs is sorted; a handful of entries: a linear scan is fine.
	for _, o := range ix.outputs {
		if within(path, o) {
			return true
		}
	}
	return false
}

// Owners returns the services (sorted) for which a change at path (absolute, clean)
// matters: path is one of the target's Files, or is the Root or below it and not
// ignored. Outputs belong to nobody.
func (ix *Index) Owners(path string) []string {
	path = filepath.Clean(path)
	if ix.IsOutput(path) {
		return nil
	}
	var out []string
	ix.mu.Lock()
	defer ix.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range ix.targets {
		if !seen[t.Service] && t.owns(path) {
			seen[t.Service] = true
			out = append(out, t.Service)
		}
	}
	sort.Strings(out)
	return out
}

func (t *compiledTarget) owns(path string) bool {
	if t.files[path] {
		return true
	}
	if t.Root == "" || !within(path, t.Root) {
		return false
	}
	rel := relTo(path, t.Root)
	if rel == "." {
		return true
	}
	if hasVCSComponent(rel) || isTempFile(filepath.Base(path)) {
		return false
	}
	if t.pm != nil {
		if ignored, err := t.pm.MatchesOrParentMatches(rel); err == nil && ignored {
			return false
		}
	}
	return true
}

// WatchDir reports whether directory dir (absolute, clean) should be watched as part of
// a recursive Root tree: it is some target's Root, or below one and not ignored by it
// (an ignored directory is still watched when a "!" exception may match inside it).
// Parents of Files are handled separately (see FileDirs).
func (ix *Index) WatchDir(dir string) bool {
	dir = filepath.Clean(dir)
	if ix.IsOutput(dir) {
		return false
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, t := range ix.targets {
		if t.wantsDir(dir) {
			return true
		}
	}
	return false
}

func (t *compiledTarget) wantsDir(dir string) bool {
	if t.Root == "" || !within(dir, t.Root) {
		return false
	}
	rel := relTo(dir, t.Root)
	if rel == "." {
		return true
	}
	if hasVCSComponent(rel) {
		return false
	}
	if t.pm == nil {
		return true
	}
	ignored, err := t.pm.MatchesOrParentMatches(rel)
	if err != nil || !ignored {
		return true
	}
	// Ignored: walk it only if an exception pattern could match below it.
	dirSlash := rel + "/"
	for _, p := range t.exceptPrefixes {
		if strings.HasPrefix(dirSlash, p) || strings.HasPrefix(p, dirSlash) {
			return true
		}
	}
	return false
}

// Roots returns the distinct target roots, sorted (so a root comes before any root
// nested in it).
func (ix *Index) Roots() []string {
	set := map[string]bool{}
	for _, t := range ix.targets {
		if t.Root != "" {
			set[t.Root] = true
		}
	}
	return sortedKeys(set)
}

func (ix *Index) isRoot(p string) bool {
	for _, t := range ix.targets {
		if t.Root == p {
			return true
		}
	}
	return false
}

// FileDirs returns the distinct parent directories of all targets' Files, sorted,
// except those of Files that are Outputs.
func (ix *Index) FileDirs() []string {
	set := map[string]bool{}
	for _, t := range ix.targets {
		for _, f := range t.Files {
			if !ix.IsOutput(f) {
				set[filepath.Dir(f)] = true
			}
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
