package build

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// walkFunc is called for every entry walkTree keeps. rel is slash-separated and
// relative to the walk root; info comes from Lstat.
type walkFunc func(abs, rel string, info fs.FileInfo) error

// walkTree walks root in lexical order and calls fn for every entry that is not
// excluded, mirroring the semantics docker uses when it tars a build context
// (github.com/moby/go-archive TarWithOptions): patterns are matched against the
// path relative to root with parent-directory results carried down, an excluded
// directory is pruned unless an exclusion pattern ("!dir/file") may re-include
// something below it, and an excluded directory that is walked into is itself
// not reported.
//
// prune is an additional hard exclusion checked before the patterns (outputs,
// .git/): a pruned directory is never entered. pm may be nil.
func walkTree(root string, pm *patternmatcher.PatternMatcher, prune func(abs string, isDir bool) bool, fn walkFunc) error {
	var (
		parentDirs []string
		parentInfo []patternmatcher.MatchInfo
	)
	return filepath.WalkDir(root, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if abs == root {
			return nil
		}
		rel := strings.TrimPrefix(abs[len(root):], string(os.PathSeparator))
		isDir := d.IsDir()
		if prune != nil && prune(abs, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if pm != nil {
			for len(parentDirs) != 0 {
				last := parentDirs[len(parentDirs)-1]
				if strings.HasPrefix(rel, last+string(os.PathSeparator)) {
					break
				}
				parentDirs = parentDirs[:len(parentDirs)-1]
				parentInfo = parentInfo[:len(parentInfo)-1]
			}
			var parent patternmatcher.MatchInfo
			if len(parentInfo) != 0 {
				parent = parentInfo[len(parentInfo)-1]
			}
			skip, info, err := pm.MatchesUsingParentResults(rel, parent)
			if err != nil {
				return fmt.Errorf("match %s: %w", rel, err)
			}
			if isDir {
				parentDirs = append(parentDirs, rel)
				parentInfo = append(parentInfo, info)
			}
			if skip {
				if !isDir {
					return nil
				}
				if !pm.Exclusions() {
					return filepath.SkipDir
				}
				dirSlash := rel + string(os.PathSeparator)
				for _, pat := range pm.Patterns() {
					if pat.Exclusion() && strings.HasPrefix(pat.String()+string(os.PathSeparator), dirSlash) {
						return nil // something below may be re-included: walk in, don't report the dir
					}
				}
				return filepath.SkipDir
			}
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil // vanished between readdir and lstat
			}
			return err
		}
		return fn(abs, filepath.ToSlash(rel), info)
	})
}

// readDockerignore returns the patterns of <contextDir>/.dockerignore (nil when absent).
func readDockerignore(contextDir string) ([]string, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return patterns, nil
}

// contextExcludes returns the exclude patterns docker applies to a build context:
// the .dockerignore patterns plus re-inclusions of .dockerignore and of the
// Dockerfile, which are always sent (docker/cli TrimBuildFilesFromExcludes).
// relDockerfile is slash-separated and relative to the context ("" when the
// Dockerfile lives outside the context).
func contextExcludes(contextDir, relDockerfile string) ([]string, error) {
	excludes, err := readDockerignore(contextDir)
	if err != nil {
		return nil, err
	}
	if len(excludes) == 0 {
		return nil, nil
	}
	if keep, _ := patternmatcher.MatchesOrParentMatches(".dockerignore", excludes); keep {
		excludes = append(excludes, "!.dockerignore")
	}
	if relDockerfile != "" {
		if keep, _ := patternmatcher.MatchesOrParentMatches(relDockerfile, excludes); keep {
			excludes = append(excludes, "!"+relDockerfile)
		}
	}
	return excludes, nil
}

// newMatcher compiles patterns (nil matcher when there are none).
func newMatcher(patterns []string) (*patternmatcher.PatternMatcher, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("invalid ignore pattern: %w", err)
	}
	return pm, nil
}

// resolvePath returns p with symlinks resolved as far as it exists, so that
// paths that are spelled differently (a symlinked /tmp, a trailing slash)
// compare equal. p need not exist.
func resolvePath(p string) string {
	p = filepath.Clean(p)
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	dir, base := filepath.Split(p)
	if dir == "" || dir == p {
		return p
	}
	return filepath.Join(resolvePath(filepath.Clean(dir)), base)
}

// within reports whether p is dir or below it (both clean, absolute).
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if dir == string(os.PathSeparator) {
		return strings.HasPrefix(p, dir)
	}
	return strings.HasPrefix(p, dir+string(os.PathSeparator))
}
