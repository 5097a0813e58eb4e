package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestRestartServesChangedConfig: a file a service mounts (configs:) is read again by
// clocal restart, as the README promises ("a config change needs clocal restart, not a
// rebuild"): saved the way editors save (a new file renamed over the old one), the
// restarted container (same container, same image, later start) serves the new content.
func TestRestartServesChangedConfig(t *testing.T) {
	docker := testutil.RequireDocker(t)
	project := testProject(t)
	ws := fleetWS(t, docker, project, testutil.FleetOptions{Services: 1, Configs: []string{"svc-00"}})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cli := func(args ...string) result {
		return mustRun(t, ctx, append([]string{"-w", ws, "-p", project}, args...)...)
	}
	cli("up", "all", "--ephemeral-ports", "--timeout", "3m")
	before := fleetGet(docker, project, "svc-00", "/config")
	if !strings.Contains(before, "hello") {
		t.Fatalf("GET /config before the edit = %q", before)
	}
	var first actionJSON
	if err := json.Unmarshal([]byte(cli("start", "svc-00", "--json").Out), &first); err != nil || len(first.Containers) != 1 {
		t.Fatalf("start --json: %v %+v", err, first)
	}

	cfg := filepath.Join(ws, "services", "svc-00", "config", "app.json")
	if err := os.WriteFile(cfg+".new", []byte(`{"greeting": "bonjour"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(cfg+".new", cfg); err != nil {
		t.Fatal(err)
	}
	// The running container still sees the file it was started with (a bind mount holds
	// the replaced file), which is why the README says restart.
	if body := fleetGet(docker, project, "svc-00", "/config"); body != before {
		t.Logf("GET /config changed before the restart: %q", body)
	}
	var restarted actionJSON
	if err := json.Unmarshal([]byte(cli("restart", "svc-00", "--json").Out), &restarted); err != nil || len(restarted.Containers) != 1 {
		t.Fatalf("restart --json: %v %+v", err, restarted)
	}
	c, c0 := restarted.Containers[0], first.Containers[0]
	if c.ID != c0.ID || !c.StartedAt.After(c0.StartedAt) || c.State != "running" {
		t.Errorf("restart: %+v, before %+v: want the same container started again", c, c0)
	}
	if body := fleetGet(docker, project, "svc-00", "/config"); !strings.Contains(body, "bonjour") {
		t.Fatalf("GET /config after clocal restart = %q, want the edited config (before: %q)", body, before)
	}
}
