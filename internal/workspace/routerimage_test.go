package workspace_test

import (
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestRouterImageSetting: router_image in clocal.yaml, replaced by clocal.local.yaml's on
// this machine; a value that is not an image reference is an error naming file, line and key.
func TestRouterImageSetting(t *testing.T) {
	load := func(cfg, local string) (*workspace.Workspace, error) {
		files := map[string]string{"clocal.yaml": "name: t\n" + cfg, "services/a/a.job": dotenvJob}
		if local != "" {
			files["clocal.local.yaml"] = local
		}
		return workspace.Load(writeFiles(t, files))
	}
	ws, err := load("", "")
	if err != nil || ws.RouterImage() != "" {
		t.Fatalf("unset: %q %v", ws.RouterImage(), err)
	}
	ws, err = load("router_image: registry.company/tools/clocal-router\n", "")
	if err != nil || ws.RouterImage() != "registry.company/tools/clocal-router" {
		t.Fatalf("clocal.yaml: %v", err)
	}
	ws, err = load("router_image: registry.company/tools/clocal-router\n", "router_image: localhost:5000/clocal-router:mine\n")
	if err != nil || ws.RouterImage() != "localhost:5000/clocal-router:mine" {
		t.Fatalf("clocal.local.yaml wins: %q %v", ws.RouterImage(), err)
	}
	for _, c := range []struct{ cfg, local, where string }{
		{"router_image: \"Registry.Company/x y\"\n", "", "clocal.yaml:2"},
		{"", "sources: {}\nrouter_image: \"x::1\"\n", "clocal.local.yaml:2"},
	} {
		_, err := load(c.cfg, c.local)
		if err == nil || !strings.Contains(err.Error(), c.where) || !strings.Contains(err.Error(), "router_image: ") {
			t.Errorf("%q %q: error %v, want %s naming router_image", c.cfg, c.local, err, c.where)
		}
	}
}
