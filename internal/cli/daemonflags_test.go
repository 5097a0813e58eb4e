package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestDaemonFlags: -H/--docker-host and --context choose the daemon as docker's -H and
// --context do, over DOCKER_HOST; a context that does not exist, a host that is not a
// Docker address, or both flags at once are bad input (exit 2) before anything runs.
func TestDaemonFlags(t *testing.T) {
	dockerClient := testutil.RequireDocker(t)
	// A workspace copy whose kvstore build.sh also asks, with the docker CLI, for the
	// daemon clocal sends its docker commands to: the one the flag chose.
	root := testutil.CopyWorkspace(t)
	seen := filepath.Join(t.TempDir(), "build-docker-host")
	script := filepath.Join(root, "services", "kvstore", "build.sh")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(strings.Replace(string(b), "set -eu\n", "set -eu\n{ docker version --format 'server API {{.Server.APIVersion}}' || echo \"docker failed: DOCKER_HOST=$DOCKER_HOST DOCKER_CONTEXT=$DOCKER_CONTEXT\"; } > "+seen+" 2>&1\n", 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	clocalBinary(t)
	// A docker config folder of its own, with one context: this machine's daemon.
	cfg := t.TempDir()
	s := store.New(cfg+"/contexts", command.DefaultContextStoreConfig())
	if err := s.CreateOrUpdate(store.Metadata{Name: "clocal-test", Metadata: command.DockerContext{Description: "this machine"},
		Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: dockerClient.DaemonHost()}}}); err != nil {
		t.Fatal(err)
	}
	// DOCKER_HOST names a daemon that does not exist: only the flag can reach the real one.
	env := []string{"DOCKER_CONFIG=" + cfg, "DOCKER_HOST=unix:///nonexistent.sock", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY="}
	project := testProject(t)
	run := func(args ...string) result {
		t.Helper()
		return runClocal(t, 5*time.Minute, env, append([]string{"-w", root, "-p", project}, args...)...)
	}
	t.Cleanup(func() { run("-H", dockerClient.DaemonHost(), "down", "-v", "-t", "1") })

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"both flags", []string{"-H", dockerClient.DaemonHost(), "--context", "clocal-test", "ps"}, ExitBadInput, "--docker-host and --context both choose the Docker daemon"},
		{"unknown context", []string{"--context", "nope", "up", "kvstore"}, ExitBadInput, `docker context "nope"`},
		{"not a docker address", []string{"--docker-host", "bogus://x", "up", "kvstore"}, ExitBadInput, `--docker-host "bogus://x"`},
		{"-H over DOCKER_HOST", []string{"--docker-host", "unix:///nonexistent-flag.sock", "ps"}, ExitFailure, "unix:///nonexistent-flag.sock"},
	} {
		r := run(c.args...)
		if r.Code != c.code || !strings.Contains(r.Err, c.want) {
			t.Errorf("%s: exit %d, want %d with %q; stderr:\n%s", c.name, r.Code, c.code, c.want, r.Err)
		}
	}
	if ctrs, _, _ := leftovers(t, dockerClient, project); len(ctrs) != 0 {
		t.Fatalf("bad input touched the daemon: %v", ctrs)
	}

	// --context reaches the daemon DOCKER_HOST does not: up, ps and down all go there.
	if r := run("--context", "clocal-test", "up", "kvstore", "--ephemeral-ports"); r.Code != 0 {
		t.Fatalf("up --context: exit %d\n%s", r.Code, r.Err)
	}
	if ctrs, _, _ := leftovers(t, dockerClient, project); len(ctrs) != 1 {
		t.Fatalf("after up --context: containers %v, want kvstore's", ctrs)
	}
	if got, err := os.ReadFile(seen); err != nil || !regexp.MustCompile(`^server API 1\.\d+\n$`).Match(got) {
		t.Fatalf("build.sh's docker did not reach the context's daemon: %s (%v)", got, err)
	}
	if r := run("--context", "clocal-test", "ps"); r.Code != 0 || !strings.Contains(r.Out, "kvstore") {
		t.Fatalf("ps --context: exit %d\n%s%s", r.Code, r.Out, r.Err)
	}
	if r := run("-H", dockerClient.DaemonHost(), "down"); r.Code != 0 {
		t.Fatalf("down -H: exit %d\n%s", r.Code, r.Err)
	}
	if ctrs, _, _ := leftovers(t, dockerClient, project); len(ctrs) != 0 {
		t.Fatalf("after down -H: containers %v", ctrs)
	}

	// Completion offers the contexts.
	r := runClocal(t, time.Minute, env, "__complete", "--context", "")
	if !strings.Contains(r.Out, "clocal-test\n") || !strings.Contains(r.Out, "default\n") {
		t.Fatalf("completion of --context:\n%s", r.Out)
	}
}
