package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestUsageErrorsExitTwo is the exit code table of usage errors: unknown commands and
// flags, missing and extra arguments, bad flag values all exit 2 with cobra's message and
// a hint where to read more, and contact no daemon.
func TestUsageErrorsExitTwo(t *testing.T) {
	root := testutil.RepoRoot()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command", []string{"statu"}, []string{`unknown command "statu" for "clocal"`, "Did you mean this?", "status", "clocal --help"}},
		{"unknown command, no suggestion", []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "clocal --help"}},
		{"unknown flag", []string{"-w", root, "up", "--no-such-flag", "repo-manager"}, []string{"unknown flag: --no-such-flag", "usage: clocal up TARGET...", "clocal up --help"}},
		{"unknown global flag", []string{"--frob", "ps"}, []string{"unknown flag: --frob"}},
		{"unknown shorthand", []string{"-w", root, "logs", "-Z"}, []string{"unknown shorthand flag: 'Z'", "clocal logs --help"}},
		{"up without target", []string{"-w", root, "up"}, []string{"requires at least 1 arg(s), only received 0", "usage: clocal up TARGET...", "clocal up --help"}},
		{"exec without arguments", []string{"-w", root, "exec"}, []string{"requires at least 2 arg(s), only received 0", "clocal exec --help"}},
		{"exec without command", []string{"-w", root, "exec", "kvstore"}, []string{"requires at least 2 arg(s), only received 1"}},
		{"shell with two services", []string{"-w", root, "shell", "kvstore", "markdown-renderer"}, []string{"accepts 1 arg(s), received 2", "clocal shell --help"}},
		{"down with an argument", []string{"-w", root, "down", "kvstore"}, []string{`unknown command "kvstore" for "clocal down"`, "clocal down --help"}},
		{"gc with an argument", []string{"-w", root, "gc", "now"}, []string{`unknown command "now" for "clocal gc"`}},
		{"port with three arguments", []string{"-w", root, "port", "a", "1", "2"}, []string{"accepts between 1 and 2 arg(s), received 3"}},
		{"update without service", []string{"-w", root, "update"}, []string{"accepts 1 arg(s), received 0"}},
		{"version with an argument", []string{"version", "x"}, []string{`unknown command "x" for "clocal version"`}},
		{"bad duration", []string{"-w", root, "down", "-t", "soon"}, []string{`invalid argument "soon" for "-t, --timeout"`, "clocal down --help"}},
		{"bad int", []string{"-w", root, "gc", "--keep", "many"}, []string{`invalid argument "many" for "--keep"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, fake, contacted := runFake(t, c.args...)
			if r.Code != ExitBadInput {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.Code, ExitBadInput, r.Err)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Err, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Err)
				}
			}
			if strings.Count(r.Err, "clocal: ") != 1 {
				t.Errorf("want exactly one error line:\n%s", r.Err)
			}
			if *contacted || len(fake.Calls()) > 0 {
				t.Errorf("a usage error contacted Docker: %v", fake.Calls())
			}
		})
	}
	// Runtime failures stay 1 and interruptions 130: the table is about usage only.
	if ExitCode(errors.New("daemon said no")) != ExitFailure {
		t.Error("plain error is not exit 1")
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version", "--json"}, {"--version", "--json"}} {
		r, _, _ := runFake(t, args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Err)
		}
		var v versionJSON
		if err := json.Unmarshal([]byte(r.Out), &v); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.Out)
		}
		// runFake's Docker client points at a socket that does not exist.
		if v.Clocal == "" || v.Compose != "2.40.3" || v.ComposeGo != "2.9.1" || v.Go == "" || v.Engine.Reachable || v.Engine.Error == "" {
			t.Errorf("%v: %+v", args, v)
		}
	}
	r, _, _ := runFake(t, "version")
	for _, w := range []string{"clocal:", "compose:  2.40.3", "engine:   unreachable"} {
		if !strings.Contains(r.Out, w) {
			t.Errorf("clocal version lacks %q:\n%s", w, r.Out)
		}
	}
	if r2, _, _ := runFake(t, "--version"); r2.Out != r.Out || r2.Code != 0 {
		t.Errorf("--version differs from version:\n%s\n%s", r2.Out, r.Out)
	}
}

// TestVersionShowsTheEngine: with a daemon, the engine's version and API version.
func TestVersionShowsTheEngine(t *testing.T) {
	testutil.RequireDocker(t)
	r := runCLI(t, t.Context(), "version", "--json")
	var v versionJSON
	if err := json.Unmarshal([]byte(r.Out), &v); err != nil || r.Code != 0 {
		t.Fatalf("%v %d\n%s%s", err, r.Code, r.Out, r.Err)
	}
	if !v.Engine.Reachable || v.Engine.Version == "" || v.Engine.APIVersion == "" || v.Engine.ClientAPI == "" {
		t.Fatalf("engine: %+v", v.Engine)
	}
}
