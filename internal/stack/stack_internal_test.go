package stack

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func resolve(t *testing.T, ws *workspace.Workspace, targets ...string) *workspace.Selection {
	t.Helper()
	sel, err := ws.Resolve(targets)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func TestMakeMountDirs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets []string
		// mounts replaces kvstore's mounts (nil: keep the fixture's)
		mounts  map[string]string
		link    bool     // create <root>/link -> a folder outside the workspace
		want    []string // folders (workspace-relative) that must exist afterwards
		absent  []string // folders (relative to the workspace's parent) that must not
		wantErr string
	}{
		{
			name:    "fixture mount of repo-manager",
			targets: []string{"dev"},
			want:    []string{".data/repo-manager"},
		},
		{
			name:    "nested and dot-slash paths",
			targets: []string{"kv-1"},
			mounts:  map[string]string{"/a": "state/kv/a", "/b": "./state/kv/b/../c"},
			want:    []string{"state/kv/a", "state/kv/c"},
			absent:  []string{"ws/state/kv/b"},
		},
		{
			name:    "service outside the selection is left alone",
			targets: []string{"search-2"},
			// search-2 → kvstore: kvstore is in the closure; repo-manager (with a mount) is not
			mounts: map[string]string{"/k": "kvdata"},
			want:   []string{"kvdata"},
			absent: []string{"ws/.data"},
		},
		{
			name:    "relative path escaping the workspace",
			targets: []string{"kv-1"},
			mounts:  map[string]string{"/evil": "../outside"},
			wantErr: `services/kvstore/service.yaml: mounts./evil: "../outside" is outside the workspace`,
			absent:  []string{"outside"},
		},
		{
			name:    "absolute path outside the workspace",
			targets: []string{"kv-1"},
			mounts:  map[string]string{"/evil": "$PARENT/abs-outside"}, // $PARENT: the workspace's parent
			wantErr: "abs-outside\" is outside the workspace",
			absent:  []string{"abs-outside"},
		},
		{
			name:    "symlink leaving the workspace",
			targets: []string{"kv-1"},
			mounts:  map[string]string{"/evil": "link/sub"},
			link:    true,
			wantErr: `"link/sub" leaves the workspace through a symlink`,
			absent:  []string{"elsewhere-dir/sub"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// <parent>/ws is the workspace, so that escapes land in <parent> where we look.
			parent := t.TempDir()
			root := filepath.Join(parent, "ws")
			if err := os.Rename(CopyFixture(t, nil), root); err != nil {
				t.Fatal(err)
			}
			ws, err := workspace.Load(root)
			if err != nil {
				t.Fatal(err)
			}
			if tc.link {
				outside := filepath.Join(parent, "elsewhere-dir")
				if err := os.Mkdir(outside, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.mounts != nil {
				mounts := map[string]string{}
				for k, v := range tc.mounts {
					mounts[k] = strings.ReplaceAll(v, "$PARENT", parent)
				}
				ws.Services["kvstore"].File.Mounts = mounts
			}
			s := New(ws, "m", nil, nil, nil)
			err = s.makeMountDirs(resolve(t, ws, tc.targets...))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("makeMountDirs: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("makeMountDirs: %v, want an error containing %q", err, tc.wantErr)
			}
			for _, d := range tc.want {
				st, err := os.Stat(filepath.Join(root, d))
				if err != nil || !st.IsDir() {
					t.Errorf("%s not created: %v", d, err)
				}
			}
			for _, d := range tc.absent {
				if _, err := os.Stat(filepath.Join(parent, d)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists (%v), want it not created", d, err)
				}
			}
		})
	}
}

func TestWarnPrivileges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		targets    []string
		privileged []string // service names whose service file sets privileged
		socket     []string // ... docker_socket
		want       []string
	}{
		{name: "none", targets: []string{"dev"}},
		{
			name: "privileged", targets: []string{"kv-1"}, privileged: []string{"kvstore"},
			want: []string{"warning: kvstore runs privileged (services/kvstore/service.yaml asks for it): it has full access to the host"},
		},
		{
			name: "socket", targets: []string{"kv-1"}, socket: []string{"kvstore"},
			want: []string{"warning: kvstore gets the Docker socket /var/run/docker.sock (services/kvstore/service.yaml asks for it): it controls the host's Docker"},
		},
		{
			name: "both, in selection order", targets: []string{"dev"},
			privileged: []string{"repo-manager", "kvstore"}, socket: []string{"repo-manager"},
			want: []string{
				"warning: kvstore runs privileged (services/kvstore/service.yaml asks for it): it has full access to the host",
				"warning: repo-manager runs privileged (services/repo-manager/service.yaml asks for it): it has full access to the host",
				"warning: repo-manager gets the Docker socket /var/run/docker.sock (services/repo-manager/service.yaml asks for it): it controls the host's Docker",
			},
		},
		{
			// split instances share their service file: only the selected one is named
			name: "split instance", targets: []string{"search-2"}, socket: []string{"search-2"},
			want: []string{"warning: search-2 gets the Docker socket /var/run/docker.sock (services/search/service.yaml asks for it): it controls the host's Docker"},
		},
		{
			name: "not selected", targets: []string{"kv-1"}, privileged: []string{"repo-manager"}, socket: []string{"mailer"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := LoadFixture(t, nil)
			for _, n := range tc.privileged {
				ws.Services[n].File.Privileged = true
			}
			for _, n := range tc.socket {
				ws.Services[n].File.DockerSocket = true
			}
			var out bytes.Buffer
			s := New(ws, "w", nil, nil, &out)
			s.warnPrivileges(resolve(t, ws, tc.targets...))
			var got []string
			if out.Len() > 0 {
				got = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestBuildSpec(t *testing.T) {
	ws := LoadFixture(t, map[string]string{
		"services/repo-manager/Dockerfile":       "FROM scratch\n",
		"services/repo-manager/build.sh":         "#!/bin/sh\n",
		"services/kvstore/docker/Dockerfile.dev": "FROM scratch\n",
	})
	rm := ws.Services["repo-manager"]
	rm.File.Build = workspace.BuildConfig{
		Outputs: []string{".src", "/abs/out"},
		Inputs:  []string{"../../lib"},
		Env:     workspace.Env{"GOFLAGS": "-mod=mod"},
	}
	rm.File.Watch.Ignore = []string{"*.log"}
	dir := filepath.Join(ws.Root, "services", "repo-manager")
	got, ok := BuildSpec(ws, rm)
	if !ok {
		t.Fatal("repo-manager has a Dockerfile: BuildSpec false")
	}
	want := build.Spec{
		Service:    "repo-manager",
		Dir:        dir,
		Dockerfile: filepath.Join(dir, "Dockerfile"),
		Context:    dir,
		Source:     filepath.Join(ws.Root, "elsewhere", "rm"),
		Script:     filepath.Join(dir, "build.sh"),
		Env:        map[string]string{"GOFLAGS": "-mod=mod"},
		Ignore:     []string{"*.log"},
		Outputs:    []string{filepath.Join(dir, ".src"), "/abs/out"},
		Inputs:     []string{filepath.Join(ws.Root, "lib")},
		Runtime:    []string{filepath.Join(dir, "config", "app.json")}, // configs: mounted, not a build input
		Labels:     map[string]string{labels.Workspace: ws.Root},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuildSpec:\n%+v\nwant:\n%+v", got, want)
	}
	// the spec's ignore list is a copy: the builder may not change the service file
	got.Ignore[0] = "changed"
	if rm.File.Watch.Ignore[0] != "*.log" {
		t.Error("BuildSpec shares the service file's ignore list")
	}

	// a Dockerfile elsewhere, no build.sh
	kv := ws.Services["kvstore"]
	kv.File.Build = workspace.BuildConfig{Dockerfile: "docker/Dockerfile.dev", Context: "docker"}
	kvDir := filepath.Join(ws.Root, "services", "kvstore")
	got, ok = BuildSpec(ws, kv)
	if !ok || got.Dockerfile != filepath.Join(kvDir, "docker", "Dockerfile.dev") || got.Context != filepath.Join(kvDir, "docker") || got.Script != "" || got.Source != "" {
		t.Errorf("kvstore: %+v, %v", got, ok)
	}

	// no Dockerfile: the production image runs as is
	if _, ok := BuildSpec(ws, ws.Services["markdown"]); ok {
		t.Error("markdown has no Dockerfile: BuildSpec true")
	}
	s := New(ws, "b", nil, nil, nil)
	specs := s.Specs([]string{"markdown", "repo-manager", "nope", "kvstore"})
	if len(specs) != 2 || specs["repo-manager"].Service != "repo-manager" || specs["kvstore"].Service != "kvstore" {
		t.Errorf("Specs = %v", specs)
	}
}

// TestWriteStateConcurrent: many writers of the same state file at once (the dev loop
// replacing many services) all succeed and leave one complete file and no temporary ones.
// With one shared temporary name, writers removed each other's file between write and
// rename ("rename …/compose.yaml.tmp …: no such file or directory").
func TestWriteStateConcurrent(t *testing.T) {
	ws := LoadFixture(t, nil)
	s := &Stack{WS: ws, Name: "concurrent"}
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.writeState("compose.yaml", bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(s.ProjectDir(), "compose.yaml"))
	if err != nil || len(data) != 64<<10 || strings.Trim(string(data), string(data[:1])) != "" {
		t.Errorf("compose.yaml after concurrent writes: %d bytes, %v; want one writer's 64 KiB", len(data), err)
	}
	entries, _ := os.ReadDir(s.ProjectDir())
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
