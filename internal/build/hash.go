package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/patternmatcher"

	"github.com/clocal-dev/clocal/internal/buildout"
)

// hashFormat is mixed into every content hash. Bump it whenever the set of inputs
// or their encoding changes so that old images are not reused by mistake.
const hashFormat = "clocal-build-hash/v1"

// racyWindow: a file whose mtime is this close to the start of a hash run is
// never trusted from (nor stored in) the stat cache. File systems stamp mtimes
// with a coarse clock (jiffies on Linux, 1-2 s on some), so a file rewritten
// right after it was hashed could otherwise keep size, mtime and inode while its
// content changed ("racy git" problem).
const racyWindow = 2 * time.Second

// contentReads counts files whose content was read and hashed (stat cache
// misses). Tests use it to prove that warm runs do not read files.
var contentReads atomic.Int64

// fileEntry is one hashed tree entry.
type fileEntry struct {
	rel  string
	abs  string
	kind byte // 'f' regular file, 'l' symlink, 'd' directory
	mode fs.FileMode
	info fs.FileInfo
	sum  string // content sha256 (files) or link target (symlinks)
}

// Hash returns the content hash (64 hex digits) of everything the build of s
// reads: the non-ignored files under Source, the build script, the Dockerfile,
// the files of the build context docker would send (minus Outputs and .git/),
// Spec.Env, Spec.Labels, the IDs of the local images the Dockerfile builds on
// (FROM, COPY --from; nothing is pulled here, a missing one counts as "-") and the
// hash-format version. File contents are taken from
// the stat cache when size, mtime and inode are unchanged, so a warm run only
// stats the trees.
func (b *Builder) Hash(s Spec) (string, error) {
	if err := s.validate(); err != nil {
		return "", err
	}
	var bases []baseID
	if b.Docker != nil {
		if df, err := os.ReadFile(s.Dockerfile); err == nil {
			if refs, err := baseImages(df); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				bases, _, err = b.resolveBases(ctx, s.Service, refs)
				cancel()
				if err != nil {
					return "", err
				}
			}
		}
	}
	sum, _, err := b.hash(s, false, bases)
	if err != nil {
		return "", fmt.Errorf("build %s: hash: %w", s.Service, err)
	}
	return sum, nil
}

// hash computes the content hash; with manifest it also returns one line per
// hashed input ("<section>/<path> <sum>"), used to explain hash changes.
func (b *Builder) hash(s Spec, manifest bool, bases []baseID) (string, map[string]string, error) {
	var man map[string]string
	if manifest {
		man = map[string]string{}
	}
	addManifest := func(section string, entries []*fileEntry) {
		for _, e := range entries {
			if man != nil {
				man[section+"/"+e.rel] = fmt.Sprintf("%c %o %s", e.kind, uint32(e.mode), e.sum)
			}
		}
	}
	c := b.statCacheFor(s.Service)
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.begin()

	outputs := make([]string, 0, len(s.Outputs))
	for _, o := range s.Outputs {
		outputs = append(outputs, resolvePath(o))
	}
	runtime := make(map[string]bool, len(s.Runtime))
	for _, r := range s.Runtime {
		runtime[resolvePath(r)] = true
	}
	prune := func(abs string, isDir bool) bool {
		if isDir && filepath.Base(abs) == ".git" {
			return true
		}
		if !isDir && runtime[abs] {
			return true // a config mounted at run time: a change restarts, never rebuilds
		}
		if isDir && buildout.Candidate(filepath.Base(abs)) && buildout.IsOutput(abs) {
			return true // gradle's build/, maven's target/...: written by build.sh itself
		}
		for _, o := range outputs {
			if within(abs, o) {
				return true
			}
		}
		return false
	}

	h := sha256.New()
	fmt.Fprintf(h, "%s\n", hashFormat)

	// Source tree.
	if s.Source != "" {
		root := resolvePath(s.Source)
		pm, err := newMatcher(s.Ignore)
		if err != nil {
			return "", nil, err
		}
		entries, err := collect(root, pm, prune)
		if err != nil {
			return "", nil, fmt.Errorf("source %s: %w", s.Source, err)
		}
		// Directories do not matter to the build script (a new folder holding
		// only ignored files must not trigger a rebuild); in the context they
		// do, since docker sends them.
		entries = slices.DeleteFunc(entries, func(e *fileEntry) bool { return e.kind == 'd' })
		if err := run.fill(entries); err != nil {
			return "", nil, err
		}
		writeTree(h, "source", entries)
		addManifest("source", entries)
	}

	// Extra input folders (shared code the build script compiles in).
	for i, in := range s.Inputs {
		var entries []*fileEntry
		abs := resolvePath(in)
		if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
			// A single file the build reads (a shared version file, a lock file).
			e, err := fileEntryFor(abs)
			if err != nil {
				return "", nil, fmt.Errorf("input %s: %w", in, err)
			}
			entries = []*fileEntry{e}
		} else if entries, err = collect(abs, nil, prune); err != nil {
			return "", nil, fmt.Errorf("input %s: %w", in, err)
		}
		entries = slices.DeleteFunc(entries, func(e *fileEntry) bool { return e.kind == 'd' })
		if err := run.fill(entries); err != nil {
			return "", nil, err
		}
		section := fmt.Sprintf("input%d", i)
		writeTree(h, section, entries)
		addManifest(section, entries)
	}

	// Build script and Dockerfile (content only: moving the workspace keeps the hash).
	for _, f := range []struct{ name, path string }{{"script", s.Script}, {"dockerfile", s.Dockerfile}} {
		if f.path == "" {
			fmt.Fprintf(h, "%s -\n", f.name)
			continue
		}
		e, err := fileEntryFor(resolvePath(f.path))
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if err := run.fill([]*fileEntry{e}); err != nil {
			return "", nil, err
		}
		fmt.Fprintf(h, "%s %s\n", f.name, e.sum)
		addManifest(f.name, []*fileEntry{e})
	}

	// Build context as docker sees it.
	ctxRoot := resolvePath(s.Context)
	relDF := relDockerfile(ctxRoot, resolvePath(s.Dockerfile))
	fmt.Fprintf(h, "dockerfile-path %q\n", relDF)
	excludes, err := contextExcludes(ctxRoot, relDF)
	if err != nil {
		return "", nil, err
	}
	pm, err := newMatcher(excludes)
	if err != nil {
		return "", nil, fmt.Errorf(".dockerignore: %w", err)
	}
	entries, err := collect(ctxRoot, pm, prune)
	if err != nil {
		return "", nil, fmt.Errorf("context %s: %w", s.Context, err)
	}
	if err := run.fill(entries); err != nil {
		return "", nil, err
	}
	writeTree(h, "context", entries)
	addManifest("context", entries)

	writeMap(h, "env", s.Env)
	writeMap(h, "labels", s.Labels)

	// Base images by local image ID: the same tag pulled again after it moved in its
	// registry is another image, so the service rebuilds. A Dockerfile building on
	// nothing (FROM scratch) adds nothing, keeping hashes of such services as they were.
	for _, bb := range bases {
		id := bb.id
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(h, "base %q %s\n", bb.ref, id)
		if man != nil {
			man["base/"+bb.ref] = id
		}
	}

	if err := c.commit(run, b.CacheDir); err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(h.Sum(nil)), man, nil
}

// relDockerfile returns the slash path of the Dockerfile relative to the context,
// or "" when it lives outside the context.
func relDockerfile(ctxRoot, dockerfile string) string {
	if !within(dockerfile, ctxRoot) || dockerfile == ctxRoot {
		return ""
	}
	rel, err := filepath.Rel(ctxRoot, dockerfile)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

// collect walks root and returns the kept regular files, symlinks and directories
// in walk (lexical) order. Other file types (sockets, fifos, devices) are skipped,
// as docker skips them when it tars a context.
func collect(root string, pm *patternmatcher.PatternMatcher, prune func(string, bool) bool) ([]*fileEntry, error) {
	var entries []*fileEntry
	err := walkTree(root, pm, prune, func(abs, rel string, info fs.FileInfo) error {
		e := &fileEntry{rel: rel, abs: abs, info: info, mode: info.Mode()}
		switch {
		case info.Mode().IsRegular():
			e.kind = 'f'
		case info.Mode()&fs.ModeSymlink != 0:
			e.kind = 'l'
			target, err := os.Readlink(abs)
			if err != nil {
				return err
			}
			e.sum = target
		case info.IsDir():
			e.kind = 'd'
		default:
			return nil
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// fileEntryFor stats a single file that must exist (build script, Dockerfile).
func fileEntryFor(path string) (*fileEntry, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return &fileEntry{rel: filepath.Base(path), abs: path, kind: 'f', mode: info.Mode(), info: info}, nil
}

func writeTree(h hash.Hash, section string, entries []*fileEntry) {
	fmt.Fprintf(h, "tree %s %d\n", section, len(entries))
	// Length-prefixed fields: unambiguous for any file name, and cheap.
	buf := make([]byte, 0, 256)
	for _, e := range entries {
		buf = append(buf[:0], e.kind, ' ')
		buf = strconv.AppendInt(buf, int64(len(e.rel)), 10)
		buf = append(buf, ':')
		buf = append(buf, e.rel...)
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, uint64(e.mode), 8)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(len(e.sum)), 10)
		buf = append(buf, ':')
		buf = append(buf, e.sum...)
		buf = append(buf, '\n')
		_, _ = h.Write(buf)
	}
}

func writeMap(h hash.Hash, section string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(h, "%s %d\n", section, len(keys))
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, m[k])
	}
}

// statEntry is what the stat cache remembers about one file.
type statEntry struct {
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"` // ns since the epoch
	Ino   uint64 `json:"i"`
	Sum   string `json:"h"` // sha256 of the content, hex
}

type statCacheFile struct {
	Format  string               `json:"format"`
	Entries map[string]statEntry `json:"entries"`
}

// statCache is the per-service stat cache: absolute path -> statEntry. It is kept
// in memory by the Builder and persisted as JSON in CacheDir.
type statCache struct {
	mu      sync.Mutex
	service string
	loaded  bool
	entries map[string]statEntry
}

// cacheRun collects the entries seen during one hash run; only those are kept,
// so files that disappeared are dropped from the cache.
type cacheRun struct {
	old     map[string]statEntry
	next    map[string]statEntry
	started time.Time
	changed bool
}

func (b *Builder) statCacheFor(service string) *statCache {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.caches == nil {
		b.caches = map[string]*statCache{}
	}
	c := b.caches[service]
	if c == nil {
		c = &statCache{service: service}
		b.caches[service] = c
	}
	if !c.loaded {
		c.entries = loadStatCache(statCachePath(b.CacheDir, service))
		c.loaded = true
	}
	return c
}

func statCachePath(dir, service string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "build-stat-"+service+".json")
}

// loadStatCache reads a cache file; any problem yields an empty cache (it is
// only a cache).
func loadStatCache(path string) map[string]statEntry {
	if path == "" {
		return map[string]statEntry{}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return map[string]statEntry{}
	}
	var f statCacheFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != hashFormat || f.Entries == nil {
		return map[string]statEntry{}
	}
	return f.Entries
}

func (c *statCache) begin() *cacheRun {
	return &cacheRun{old: c.entries, next: make(map[string]statEntry, len(c.entries)), started: time.Now()}
}

// commit makes the run's entries the cache and writes them atomically to dir
// when anything changed.
func (c *statCache) commit(r *cacheRun, dir string) error {
	if len(r.next) != len(r.old) {
		r.changed = true
	}
	c.entries = r.next
	if !r.changed || dir == "" {
		return nil
	}
	data, err := json.Marshal(statCacheFile{Format: hashFormat, Entries: r.next})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(statCachePath(dir, c.service), data); err != nil {
		return fmt.Errorf("write stat cache: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file next to path and renames it
// over path, so readers never see a partial file. Folders it creates are owner-only,
// like the rest of .clocal/ (the first command of a fresh workspace may be a config or
// graph, which creates .clocal/ through the cache).
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// fill sets the content sum of every regular file in entries, from the cache
// when size, mtime and inode match, otherwise by reading the file (in parallel).
func (r *cacheRun) fill(entries []*fileEntry) error {
	var todo []*fileEntry
	for _, e := range entries {
		if e.kind != 'f' {
			continue
		}
		key := e.abs
		st := statOf(e.info)
		if prev, ok := r.next[key]; ok && prev.matches(st) {
			e.sum = prev.Sum // same file seen earlier in this run (source inside context)
			continue
		}
		if prev, ok := r.old[key]; ok && prev.matches(st) && !r.racy(st) {
			e.sum = prev.Sum
			r.next[key] = prev
			continue
		}
		todo = append(todo, e)
	}
	if len(todo) == 0 {
		return nil
	}
	if err := hashFiles(todo); err != nil {
		return err
	}
	for _, e := range todo {
		st := statOf(e.info)
		if r.racy(st) {
			continue
		}
		st.Sum = e.sum
		r.next[e.abs] = st
		r.changed = true
	}
	return nil
}

func (r *cacheRun) racy(st statEntry) bool {
	return st.Mtime > r.started.Add(-racyWindow).UnixNano()
}

func (e statEntry) matches(st statEntry) bool {
	return e.Size == st.Size && e.Mtime == st.Mtime && e.Ino == st.Ino && e.Sum != ""
}

func statOf(info fs.FileInfo) statEntry {
	return statEntry{Size: info.Size(), Mtime: info.ModTime().UnixNano(), Ino: inodeOf(info)}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashFiles computes the sha256 of every entry's content with a small worker pool.
func hashFiles(todo []*fileEntry) error {
	workers := min(max(runtime.GOMAXPROCS(0)*2, 4), len(todo))
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(todo) {
					return
				}
				sum, err := hashFile(todo[i].abs)
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				todo[i].sum = sum
			}
		}()
	}
	wg.Wait()
	return first
}

func hashFile(path string) (string, error) {
	contentReads.Add(1)
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(h, f, *buf); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// diffManifests lists the inputs that differ between two manifests (sorted, at
// most max).
func diffManifests(a, b map[string]string, max int) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) > max {
		out = append(out[:max], "…")
	}
	return out
}
