package convert

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

const fixtureWS = "../workspace/testdata/ws"

func loadWS(t testing.TB, root string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestGoldenWorkspace(t *testing.T) {
	ws := loadWS(t, fixtureWS)
	full, err := Workspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "workspace-full.yaml", full)
	sel, err := ws.Resolve([]string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := Workspace(ws, sel, Options{Images: map[string]string{"repo-manager": "clocal/repo-manager:0123456789ab"}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "workspace-dev.yaml", trimmed)
	for _, y := range [][]byte{full, trimmed} {
		assertNoWarnings(t, y, ws.Root)
		dockerComposeConfig(t, y, ws.Root)
	}
}

// TestProfilesMatchResolve checks the claim of the package doc: in the full project,
// `docker compose --profile X up` enables exactly the services of the trimmed project of X
// (the closure clocal starts plus its pause services), for every profile and service name X;
// and a bare `docker compose up` enables nothing.
func TestProfilesMatchResolve(t *testing.T) {
	checkProfiles(t, loadWS(t, fixtureWS))
	ws := loadWS(t, fixtureWS)
	full, _ := Workspace(ws, nil, Options{})
	project, _ := Load(context.Background(), full, "fixture", ws.Root)
	// the profile "mailer" shadows the service "mailer": it starts the profile's closure
	enabled, _ := project.WithProfiles([]string{"mailer"})
	if _, ok := enabled.Services["search-2"]; !ok {
		t.Errorf("profile mailer does not start search-2: %v", enabled.ServiceNames())
	}
}

// TestExampleWorkspace runs the same checks over the example workspace at the repository root
// (its goldens are written by -update).
func TestExampleWorkspace(t *testing.T) {
	// A copy of the tracked files: a developer's own clocal.local.yaml or .env must not
	// change the goldens.
	ws := loadWS(t, testutil.CopyWorkspace(t))
	full, err := Workspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "example-full.yaml", full)
	assertNoWarnings(t, full, ws.Root)
	dockerComposeConfig(t, full, ws.Root)
	checkProfiles(t, ws)
	// What `clocal config repo-manager` prints (the README's example), and a service target.
	for _, target := range []string{"repo-manager", "coding-blog"} {
		sel, err := ws.Resolve([]string{target})
		if err != nil {
			t.Fatal(err)
		}
		trimmed, err := Workspace(ws, sel, Options{})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "example-"+target+".yaml", trimmed)
		assertNoWarnings(t, trimmed, ws.Root)
		dockerComposeConfig(t, trimmed, ws.Root)
	}
}

func checkProfiles(t *testing.T, ws *workspace.Workspace) {
	t.Helper()
	full, err := Workspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	project, err := Load(context.Background(), full, "fixture", ws.Root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(project.Services); n != 0 {
		t.Errorf("without a profile %d services are enabled, want 0", n)
	}
	targets := append(ws.ServiceNames(), ws.ProfileNames()...)
	targets = append(targets, workspace.AllTarget) // a profile, or every service
	for _, x := range targets {
		enabled, err := project.WithProfiles([]string{x})
		if err != nil {
			t.Fatal(err)
		}
		got := enabled.ServiceNames()
		sort.Strings(got)
		sel, err := ws.Resolve([]string{x})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := FromWorkspace(ws, sel, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := plan.Services(); !reflect.DeepEqual(got, want) {
			t.Errorf("--profile %s enables %v, clocal up %s starts %v", x, got, x, want)
		}
		// every enabled service's dependencies are enabled too
		for _, s := range enabled.Services {
			for d := range s.DependsOn {
				if _, ok := enabled.Services[d]; !ok {
					t.Errorf("--profile %s: %s depends on disabled %s", x, s.Name, d)
				}
			}
		}
	}
}

// assertNoWarnings loads y with compose-go and fails on any logrus warning.
func assertNoWarnings(t *testing.T, y []byte, dir string) {
	t.Helper()
	var buf bytes.Buffer
	old, oldLevel := logrus.StandardLogger().Out, logrus.GetLevel()
	logrus.SetOutput(&buf)
	logrus.SetLevel(logrus.WarnLevel)
	defer func() { logrus.SetOutput(old); logrus.SetLevel(oldLevel) }()
	p, err := Load(context.Background(), y, "warncheck", dir)
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 0 {
		t.Errorf("compose-go warned:\n%s", buf.String())
	}
	for _, s := range p.Services {
		if s.CustomLabels[labels.ComposeProject] != "warncheck" || s.CustomLabels[labels.ComposeOneoff] != "False" || s.CustomLabels[labels.ComposeService] != s.Name ||
			!strings.HasSuffix(s.CustomLabels[labels.ComposeConfigFiles], ConfigFileName) || s.CustomLabels[labels.ComposeWorkingDir] == "" {
			t.Errorf("%s: custom labels %v", s.Name, s.CustomLabels)
		}
	}
}

// dockerComposeConfig runs the Docker Compose CLI's `config -q` on y (in dir): the CLI in
// $CLOCAL_COMPOSE_CLI (scripts/test.sh builds v2.40.3 from the module proxy), else
// docker-compose on PATH. Under CI=true a missing CLI fails the test instead of skipping
// the check.
func dockerComposeConfig(t *testing.T, y []byte, dir string) {
	t.Helper()
	bin := testutil.ComposeCLI(t)
	if bin == "" {
		t.Log("no Docker Compose CLI (CLOCAL_COMPOSE_CLI or docker-compose): skipping its check")
		return
	}
	f := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(f, y, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	cmd := exec.Command(bin, "-f", f, "--project-directory", abs, "config", "-q")
	cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME=clocaltest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config refuses the YAML: %v\n%s", err, strings.TrimSpace(string(out)))
	}
}
