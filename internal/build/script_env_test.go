//go:build unix

package build

import (
	"strings"
	"testing"
)

// TestScriptEnvDocker: the daemon build.sh's docker commands reach (Builder.ScriptDocker)
// is a DOCKER_HOST when it is an address and a DOCKER_CONTEXT when it is a context's name
// (the other variable dropped: DOCKER_HOST would win over the context), and the inherited
// pair when there is none.
func TestScriptEnvDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///inherited.sock")
	t.Setenv("DOCKER_CONTEXT", "inherited")
	for _, c := range []struct{ docker, host, context string }{
		{"", "unix:///inherited.sock", "inherited"},
		{"ssh://me@devbox", "ssh://me@devbox", ""},
		{"unix:///var/run/docker.sock", "unix:///var/run/docker.sock", ""},
		{"desktop-linux", "", "desktop-linux"},
	} {
		env := map[string]string{}
		for _, kv := range scriptEnv(Spec{Service: "s"}, "h", "i", c.docker) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if env["DOCKER_HOST"] != c.host || env["DOCKER_CONTEXT"] != c.context {
			t.Errorf("ScriptDocker %q: DOCKER_HOST=%q DOCKER_CONTEXT=%q, want %q and %q", c.docker, env["DOCKER_HOST"], env["DOCKER_CONTEXT"], c.host, c.context)
		}
	}
}
