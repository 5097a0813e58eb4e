package build_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	clibuild "github.com/docker/cli/cli/command/image/build"
	"github.com/moby/go-archive"

	"github.com/clocal-dev/clocal/internal/build"
)

// writeTree creates files (path -> content) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tarNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", hdr.Name, hdr.Uid, hdr.Gid)
		}
		names = append(names, strings.TrimSuffix(filepath.ToSlash(filepath.Clean(hdr.Name)), "/"))
	}
	sort.Strings(names)
	return names
}

// TestContextTarMatchesDocker checks that the build context clocal sends is the
// one the docker CLI would send: same .dockerignore handling (moby/go-archive
// TarWithOptions + docker/cli TrimBuildFilesFromExcludes), Dockerfile and
// .dockerignore always included.
func TestContextTarMatchesDocker(t *testing.T) {
	files := map[string]string{
		"Dockerfile":          "FROM scratch\n",
		"build.sh":            "echo\n",
		"a.log":               "x",
		"b.txt":               "x",
		"dir/keep.txt":        "x",
		"dir/other.txt":       "x",
		"dir/sub/deep.log":    "x",
		".src/target/server":  "bin",
		".git/HEAD":           "ref",
		"docs/readme.md":      "x",
		"docker/Dockerfile.x": "FROM scratch\n",
	}
	tests := []struct {
		name         string
		dockerignore string // "" = no .dockerignore
		dockerfile   string
		mustHave     []string
		mustNotHave  []string
	}{
		{"no dockerignore", "", "Dockerfile", []string{"a.log", ".git/HEAD"}, nil},
		{"glob", "*.log\n", "Dockerfile", []string{"b.txt", "dir/sub/deep.log"}, []string{"a.log"}},
		{"double star", "**/*.log\n", "Dockerfile", []string{"b.txt"}, []string{"a.log", "dir/sub/deep.log"}},
		{"dir with exception", "dir\n!dir/keep.txt\n", "Dockerfile", []string{"dir/keep.txt"}, []string{"dir/other.txt", "dir"}},
		{"everything but", "*\n!.src\n", "Dockerfile", []string{".src/target/server", "Dockerfile", ".dockerignore"}, []string{"b.txt", "build.sh"}},
		{"dockerfile and dockerignore ignored", "Dockerfile\n.dockerignore\n.git\n", "Dockerfile", []string{"Dockerfile", ".dockerignore"}, []string{".git/HEAD"}},
		{"dockerfile in ignored dir", "docker\n", "docker/Dockerfile.x", []string{"docker/Dockerfile.x"}, nil},
		{"comments and blank lines", "# comment\n\n  docs  \n", "Dockerfile", nil, []string{"docs/readme.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, files)
			if tt.dockerignore != "" {
				writeTree(t, root, map[string]string{".dockerignore": tt.dockerignore})
			}
			excludes, err := build.ContextExcludes(root, tt.dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := build.WriteContextTar(&buf, root, excludes, nil); err != nil {
				t.Fatal(err)
			}
			got := tarNames(t, &buf)

			// What docker does.
			dexcludes, err := clibuild.ReadDockerignore(root)
			if err != nil {
				t.Fatal(err)
			}
			dexcludes = clibuild.TrimBuildFilesFromExcludes(dexcludes, tt.dockerfile, false)
			rc, err := archive.TarWithOptions(root, &archive.TarOptions{ExcludePatterns: dexcludes})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			want := tarNames(t, rc)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("context differs from docker's\n got: %q\nwant: %q", got, want)
			}
			set := map[string]bool{}
			for _, n := range got {
				set[n] = true
			}
			for _, n := range tt.mustHave {
				if !set[n] {
					t.Errorf("%s missing from context %q", n, got)
				}
			}
			for _, n := range tt.mustNotHave {
				if set[n] {
					t.Errorf("%s must not be in context %q", n, got)
				}
			}
		})
	}
}
