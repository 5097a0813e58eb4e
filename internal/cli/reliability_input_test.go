package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestBadInputTouchesNothing: each broken service file, job file, profile, .env or target
// makes `up` and `config` exit 2 with one clear error naming the file and line (or the
// target with a suggestion). A stack already running is left as it was (same container,
// still running), and a bad up on a fresh project creates nothing.
func TestBadInputTouchesNothing(t *testing.T) {
	docker := testutil.RequireDocker(t)
	root := testutil.CopyWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	mustRun(t, ctx, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
	running := projectContainers(t, docker, project)
	if len(running) != 1 {
		t.Fatalf("%d containers after up", len(running))
	}

	svc := func(name string) string { return filepath.Join("services", name, "service.yaml") }
	cases := []struct {
		name    string
		files   map[string]string // workspace-relative path -> content appended ("" target only)
		target  string
		want    []string // substrings of stderr
		maxLine int
	}{
		{"unknown key", map[string]string{svc("kvstore"): "helthcheck: {test: [CMD, x]}\n"}, "kvstore",
			[]string{"services/kvstore/service.yaml:", `unknown key "helthcheck" (did you mean "healthcheck"?)`}, 1},
		{"wrong type", map[string]string{svc("kvstore"): "ports: [http]\n"}, "kvstore",
			[]string{"services/kvstore/service.yaml:", `ports[0]: expected an integer, got "http"`}, 1},
		{"dependency cycle", map[string]string{svc("kvstore"): "depends_on: [repo-manager]\n", svc("repo-manager"): "depends_on: [kvstore]\n"}, "kvstore",
			[]string{"dependency cycle:", "services/kvstore/service.yaml:"}, 1},
		{"unknown target", nil, "repo-manger",
			[]string{`"repo-manger"`, `did you mean "repo-manager"`}, 1},
		{"bad job file", map[string]string{"services/kvstore/kvstore.job": "job { nmae: \"x\" }\n"}, "kvstore",
			[]string{"services/kvstore/kvstore.job:", `unknown field "nmae"`}, 3},
		{"bad profile", map[string]string{"profiles/repo-manager.yaml": "overrides: {nope: {env: {A: b}}}\n"}, "repo-manager",
			[]string{"profiles/repo-manager.yaml:", `unknown service "nope"`}, 1},
		{"bad .env", map[string]string{".env": "DB_PASSWORD hunter2\n"}, "kvstore",
			[]string{".env:1: want KEY=VALUE"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restore := map[string][]byte{}
			for rel, add := range tc.files {
				p := filepath.Join(root, rel)
				old, err := os.ReadFile(p)
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
				restore[p] = old
				if err := os.WriteFile(p, append(append([]byte(nil), old...), add...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			defer func() {
				for p, old := range restore {
					if old == nil {
						_ = os.Remove(p)
					} else {
						_ = os.WriteFile(p, old, 0o644)
					}
				}
			}()
			for _, args := range [][]string{
				{"-p", project, "up", tc.target, "--ephemeral-ports"},
				{"-p", project + "-fresh", "up", tc.target, "--ephemeral-ports"},
				{"-p", project, "config", tc.target},
			} {
				r := runCLI(t, ctx, append([]string{"-w", root}, args...)...)
				if r.Code != ExitBadInput {
					t.Errorf("%v: exit %d, want 2\n%s", args, r.Code, r.Err)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.Err, w) {
						t.Errorf("%v: stderr lacks %q:\n%s", args, w, r.Err)
					}
				}
				if n := len(strings.Split(strings.TrimSpace(r.Err), "\n")); n > tc.maxLine {
					t.Errorf("%v: %d lines of error, want at most %d:\n%s", args, n, tc.maxLine, r.Err)
				}
				if strings.Contains(r.Err, "hunter2") {
					t.Errorf("%v: the error shows a secret:\n%s", args, r.Err)
				}
			}
			if c := projectContainers(t, docker, project+"-fresh"); len(c) != 0 {
				t.Errorf("a bad up created %d containers", len(c))
			}
			now := projectContainers(t, docker, project)
			if len(now) != 1 || now[0].ID != running[0].ID || now[0].State != "running" {
				t.Errorf("a bad up touched the running stack: %v", containerStates(t, docker, project))
			}
		})
	}
}

// TestExitCodes pins the documented exit statuses of the error kinds.
func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	if r := runCLI(t, ctx, "-w", repoRoot(t), "up", "--no-such-flag", "x"); r.Code != ExitBadInput {
		t.Errorf("bad flag: exit %d", r.Code)
	}
	if r := runCLI(t, ctx, "-w", t.TempDir(), "config", "x"); r.Code != ExitBadInput {
		t.Errorf("no workspace: exit %d", r.Code)
	}
	if ExitCode(context.Canceled) != ExitInterrupted {
		t.Errorf("canceled: exit %d", ExitCode(context.Canceled))
	}
}
