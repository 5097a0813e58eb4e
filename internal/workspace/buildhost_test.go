package workspace_test

import (
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestLocalBuildHost: build_host in clocal.local.yaml takes local, run, a Docker host URL
// or a context name; anything else is an error naming the file, line and key.
func TestLocalBuildHost(t *testing.T) {
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"local", true}, {"run", true}, {"unix:///var/run/docker.sock", true}, {"ssh://me@buildbox", true},
		{"tcp://10.0.0.7:2376", true}, {"desktop-linux", true},
		{"http://x", false}, {"ssh://", false}, {"two words", false}, {"-x", false},
	} {
		root := writeFiles(t, map[string]string{
			"clocal.yaml":       "name: t\n",
			"services/a/a.job":  dotenvJob,
			"clocal.local.yaml": "sources: {}\nbuild_host: \"" + c.value + "\"\n",
		})
		ws, err := workspace.Load(root)
		if c.ok {
			if err != nil {
				t.Errorf("build_host %q: %v", c.value, err)
			} else if ws.Local.BuildHost != c.value {
				t.Errorf("build_host %q read as %q", c.value, ws.Local.BuildHost)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "clocal.local.yaml:2") || !strings.Contains(err.Error(), "build_host") {
			t.Errorf("build_host %q: error %v, want clocal.local.yaml:2 naming build_host", c.value, err)
		}
	}
}
