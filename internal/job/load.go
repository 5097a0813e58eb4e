package job

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Extensions are the file name endings LoadPaths reads in folders.
var Extensions = []string{".job", ".jobs", ".textproto", ".txtpb", ".pb.txt", ".pbtxt", ".prototxt", ".textpb"}

// LoadPaths reads job files and folders with the built-in schema (see
// Schema.LoadPaths).
func LoadPaths(paths []string) ([]*Job, error) { return builtin.LoadPaths(paths) }

// Files returns the job files LoadPaths reads for paths: files as given,
// folders walked (see the package doc), each file once, in order. An I/O
// problem is returned as the *fs.PathError it is.
func Files(paths []string) ([]string, error) { return FilesMatching(paths, nil) }

// FilesMatching is Files reading, in folders, the files whose name matches one of the
// globs (path.Match on the base name) instead of the job Extensions (nil: the Extensions).
func FilesMatching(paths []string, globs []string) ([]string, error) {
	isJob := hasJobExt
	if len(globs) > 0 {
		isJob = func(name string) bool {
			for _, g := range globs {
				if ok, _ := path.Match(g, name); ok {
					return true
				}
			}
			return false
		}
	}
	var files []string
	seen := make(map[string]bool)
	add := func(p string) {
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, p := range paths {
		fi, err := statOpen(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			hidden := q != p && strings.HasPrefix(d.Name(), ".")
			if d.IsDir() {
				if hidden {
					return filepath.SkipDir
				}
				return nil
			}
			if hidden || !isJob(d.Name()) {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				fi, err := os.Stat(q)
				if err != nil {
					return err
				}
				if !fi.Mode().IsRegular() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			add(q)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// ReadFile reads and parses one job file (at most MaxFileSize bytes) with the
// schema; name is used in positions. Duplicate names are not checked.
func (s *Schema) ReadFile(path, name string) ([]*Job, ErrorList, error) {
	data, tooBig, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	if tooBig > 0 {
		return nil, ErrorList{{Pos: Pos{File: name}, Msg: fileTooBig(tooBig)}}, nil
	}
	r := s.parseFile(name, data)
	return r.jobs, r.errs, nil
}

// LoadPaths reads job files and folders of job files (see the package doc)
// and returns every job, in file order. Names must be unique across all of
// them.
//
// The error is a job.ErrorList (sorted by file, line and column) when the
// files hold problems; the jobs that decoded are returned too. An I/O problem
// is returned as the *fs.PathError it is (`open x: no such file or
// directory`), without jobs.
func (s *Schema) LoadPaths(paths []string) ([]*Job, error) {
	files, err := Files(paths)
	if err != nil {
		return nil, err
	}
	var (
		jobs  []*Job
		names []Pos
		errs  ErrorList
	)
	for _, f := range files {
		data, tooBig, err := readFile(f)
		if err != nil {
			return nil, err
		}
		if tooBig > 0 {
			errs = append(errs, Error{Pos: Pos{File: f}, Msg: fileTooBig(tooBig)})
			continue
		}
		r := s.parseFile(f, data)
		jobs = append(jobs, r.jobs...)
		names = append(names, r.names...)
		errs = append(errs, r.errs...)
	}
	errs = append(errs, duplicates(jobs, names)...)
	sortErrors(errs)
	return jobs, errs.Err()
}

// statOpen stats a path the way opening it does, so that a missing path
// reads `open x: no such file or directory`.
func statOpen(p string) (fs.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func hasJobExt(name string) bool {
	for _, ext := range Extensions {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return true
		}
	}
	return false
}

// readFile reads a file of at most MaxFileSize bytes; for a bigger one it
// returns its size (or MaxFileSize+1 when unknown) instead.
func readFile(name string) (data []byte, tooBig int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fi.IsDir() {
		return nil, 0, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	if fi.Size() > MaxFileSize {
		return nil, fi.Size(), nil
	}
	data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, 0, err // an *fs.PathError from os.File
	}
	if len(data) > MaxFileSize {
		return nil, int64(len(data)), nil
	}
	return data, 0, nil
}
