package workspace_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	return testutil.WriteFiles(t, root, files)
}

const dotenvJob = `job {
  name: "a-1"
  image: "img"
  run_on_host: "h-a"
  envs { key: "port" value: "80" }
  envs { key: "FROM_JOB" value: "job" }
  envs { key: "LAYER" value: "job" }
}
`

// TestDotEnvLayering: .env variables reach every service, after the service file's env and
// the profile's overrides, before clocal.local.yaml.
func TestDotEnvLayering(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"clocal.yaml":             "name: t\n",
		"services/a/a.job":        dotenvJob,
		"services/a/service.yaml": "env: {LAYER: service, SVC_ONLY: s, PROFILE_BEATEN: service}\n",
		"services/b/b.job":        strings.ReplaceAll(dotenvJob, "a-1", "b-1"),
		"profiles/p.yaml":         "services: [a, b]\noverrides:\n  a: {env: {LAYER: profile, PROFILE_BEATEN: profile}}\n",
		".env":                    "# my secrets\n\nexport API_TOKEN=\"s3cr=t\"\nLAYER=dotenv\nDOT='quoted # not a comment'\nLOCAL_BEATS=dotenv\n",
		"clocal.local.yaml":       "env:\n  a: {LOCAL_BEATS: local}\n",
	})
	_, p := loadProject(t, root, "p")
	want := map[string]map[string]string{
		"a": {"FROM_JOB": "job", "SVC_ONLY": "s", "LAYER": "dotenv", "PROFILE_BEATEN": "profile", "API_TOKEN": "s3cr=t", "DOT": "quoted # not a comment", "LOCAL_BEATS": "local"},
		"b": {"FROM_JOB": "job", "LAYER": "dotenv", "API_TOKEN": "s3cr=t", "LOCAL_BEATS": "dotenv"},
	}
	for svc, env := range want {
		got := p.Services[svc].Environment
		for k, v := range env {
			if got[k] == nil || *got[k] != v {
				t.Errorf("%s: %s = %v, want %q", svc, k, got[k], v)
			}
		}
	}
}

// TestDotEnvBad: every bad .env line is one FILE:LINE error; the workspace does not load.
func TestDotEnvBad(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"clocal.yaml":      "name: t\n",
		"services/a/a.job": dotenvJob,
		".env":             "OK=1\nno equals sign\n1BAD=x\nA B=c\n=empty\n",
	})
	_, err := workspace.Load(root)
	if err == nil {
		t.Fatal("bad .env loaded")
	}
	want := []string{
		`.env:2: want KEY=VALUE (no "=" on the line)`,
		`.env:3: invalid variable name "1BAD" (letters, digits, '_', '.', '-'; not starting with a digit)`,
		`.env:4: invalid variable name "A B" (letters, digits, '_', '.', '-'; not starting with a digit)`,
		`.env:5: invalid variable name "" (letters, digits, '_', '.', '-'; not starting with a digit)`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, data := range []string{"A=\x00\n", "A=\xff\n"} {
		if _, errs := workspace.ParseDotEnv(".env", []byte(data)); len(errs) != 1 {
			t.Errorf("ParseDotEnv(%q): %v, want one error", data, errs)
		}
	}
}

// TestDotEnvIgnored: .env and clocal.local.yaml are git-ignored in the repository.
func TestDotEnvIgnored(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	// Each entry may be anchored to the root or match anywhere in the tree (".clocal/"
	// also covers the state folders of workspace copies under testdata).
	for _, want := range [][]string{{".env"}, {"/clocal.local.yaml", "clocal.local.yaml"}, {"/.clocal/", ".clocal/"}} {
		found := false
		for _, l := range lines {
			for _, w := range want {
				if strings.TrimSpace(l) == w {
					found = true
				}
			}
		}
		if !found {
			t.Errorf(".gitignore lacks %q", want[0])
		}
	}
}

// TestLocalHealthcheckInterval: a developer's healthcheck_interval replaces the interval of
// every service healthcheck in the generated project, and nothing else of it: the interval
// of clocal's readiness probes (the readiness label), which Docker's start period budget
// follows (Docker's own probes are slow once ready: internal/convert/health.go).
func TestLocalHealthcheckInterval(t *testing.T) {
	files := map[string]string{
		"clocal.yaml":             "name: t\n",
		"services/a/a.job":        dotenvJob,
		"services/a/service.yaml": "healthcheck: {test: [CMD, /a, -healthcheck], interval: 1s, timeout: 10s, retries: 60}\n",
		"services/b/b.job":        strings.ReplaceAll(dotenvJob, "a-1", "b-1"),
	}
	for _, c := range []struct{ local, want string }{{"", "1s"}, {"healthcheck_interval: 4s\n", "4s"}} {
		if c.local != "" {
			files["clocal.local.yaml"] = c.local
		}
		root := writeFiles(t, files)
		ws, p := loadProject(t, root, "a", "b")
		h := p.Services["a"].HealthCheck
		r, err := convert.ParseReadiness(p.Services["a"].Labels[labels.Readiness])
		if err != nil || r.Interval.String() != c.want || r.Timeout.String() != "10s" || r.Retries != 60 {
			t.Errorf("local %q: readiness %+v (%v), want interval %s", c.local, r, err, c.want)
		}
		if h == nil || h.StartPeriod == nil || h.StartPeriod.String() != (60*r.Interval).String() || h.Timeout.String() != "10s" {
			t.Errorf("local %q: healthcheck %+v, want a start period of 60 intervals of %s", c.local, h, c.want)
		}
		if p.Services["b"].HealthCheck != nil {
			t.Errorf("local %q: b got a healthcheck", c.local)
		}
		if ws.Services["a"].File.Healthcheck.Interval != "1s" {
			t.Error("the service file's healthcheck was modified")
		}
	}
}

// loadProject loads the workspace at root, converts the targets' closure and loads the
// generated YAML through compose-go, as up would.
func loadProject(t *testing.T, root string, targets ...string) (*workspace.Workspace, *types.Project) {
	t.Helper()
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := ws.Resolve(targets)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := convert.FromWorkspace(ws, sel, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	yaml, err := plan.YAML()
	if err != nil {
		t.Fatal(err)
	}
	p, err := convert.Load(t.Context(), yaml, "t", root)
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	return ws, p
}
