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

	"github.com/clocal-dev/clocal/internal/workspace"
	"github.com/sirupsen/logrus"
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
// (skipped until it exists); its goldens are written by -update.
func TestExampleWorkspace(t *testing.T) {
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, workspace.ConfigFile)); err != nil {
		t.Skip("no example workspace at the repository root yet")
	}
	ws := loadWS(t, root)
	full, err := Workspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	goldenIfPresent(t, "example-full.yaml", full)
	assertNoWarnings(t, full, ws.Root)
	dockerComposeConfig(t, full, ws.Root)
	checkProfiles(t, ws)
	targets := append(ws.ProfileNames(), ws.ServiceNames()...)
	if len(targets) == 0 {
		return
	}
	sel, err := ws.Resolve(targets[:1])
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := Workspace(ws, sel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	goldenIfPresent(t, "example-"+targets[0]+".yaml", trimmed)
	assertNoWarnings(t, trimmed, ws.Root)
	dockerComposeConfig(t, trimmed, ws.Root)
}

// goldenIfPresent is golden for files that may not exist yet (the example changes in parallel).
func goldenIfPresent(t *testing.T, name string, got []byte) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("testdata", "golden", name)); err != nil && !*update {
		t.Logf("no golden %s yet (go test ./internal/convert -update writes it)", name)
		return
	}
	golden(t, name, got)
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
		if s.CustomLabels[ProjectLabel] != "warncheck" || s.CustomLabels[OneoffLabel] != "False" || s.CustomLabels[ServiceLabel] != s.Name ||
			!strings.HasSuffix(s.CustomLabels[ConfigFilesLabel], ConfigFileName) || s.CustomLabels[WorkingDirLabel] == "" {
			t.Errorf("%s: custom labels %v", s.Name, s.CustomLabels)
		}
	}
}

// dockerComposeConfig runs `docker-compose config -q` on y (in dir) when the binary exists.
func dockerComposeConfig(t *testing.T, y []byte, dir string) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Log("docker-compose not installed: skipping its check")
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
