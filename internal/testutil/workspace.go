package testutil

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// RepoRoot returns the repository root (the example workspace).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CopyWorkspace copies the example workspace (clocal.yaml, services/, profiles/, apps/ and
// the go.mod/go.sum the apps build with) into a fresh temp dir and returns its path. Tests
// that edit sources, service files or job files work on such a copy, never on the tracked
// files. Build outputs (.src) and clocal's state (.clocal) are not copied. Identical
// content hashes mean the copy reuses images already built from the repository.
func CopyWorkspace(t testing.TB) string {
	t.Helper()
	src := RepoRoot()
	dst := t.TempDir()
	for _, name := range []string{"clocal.yaml", "go.mod", "go.sum", "services", "profiles", "apps"} {
		if err := copyTree(filepath.Join(src, name), filepath.Join(dst, name)); err != nil {
			t.Fatalf("copy workspace: %v", err)
		}
	}
	return dst
}

// WriteFiles writes files (slash-separated path relative to root -> content) under root,
// creating folders as needed, and returns root.
func WriteFiles(t testing.TB, root string, files map[string]string) string {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// CopyDir copies the folder src (a fixture workspace) into a fresh temp dir and returns
// its path; build outputs (.src), clocal state (.clocal) and .git are left out.
func CopyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := copyTree(src, dst); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() && (info.Name() == ".src" || info.Name() == ".clocal" || strings.HasPrefix(rel, ".git")) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
