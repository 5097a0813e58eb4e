package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestSecurityDefaults: nothing in the example workspace is privileged or gets the Docker
// socket, and every published port is on 127.0.0.1 unless --bind says otherwise.
func TestSecurityDefaults(t *testing.T) {
	ctx := context.Background()
	root := repoRoot(t)
	r := mustRun(t, ctx, "-w", root, "config", "--full")
	for _, bad := range []string{"privileged", "docker.sock"} {
		if strings.Contains(r.Out, bad) {
			t.Errorf("config --full of the example workspace mentions %q", bad)
		}
	}
	for _, l := range strings.Split(r.Out, "\n") {
		l = strings.ReplaceAll(strings.TrimSpace(l), "\"", "")
		if strings.HasPrefix(l, "- ") && strings.Count(l, ":") == 2 && !strings.Contains(l, "/") {
			if !strings.HasPrefix(l, "- 127.0.0.1:") {
				t.Errorf("published port %q not on 127.0.0.1", l)
			}
		}
	}
	if !strings.Contains(r.Out, "\"127.0.0.1:8866:8866\"") {
		t.Errorf("config --full has no 127.0.0.1:8866:8866 port:\n%s", r.Out)
	}
}

// TestPrivilegesWarnedAndSecretsRedacted runs one stack whose kvstore asks for privileged
// and the Docker socket and carries secrets from .env and clocal.local.yaml:
//   - up prints one warning line per privilege, naming the service;
//   - the container really gets them, the ports are bound to 127.0.0.1;
//   - inspect, ps, ps --json and status never show the secret values (inspect
//     --show-secrets does); the container gets the real values;
//   - the generated compose file holds the real values, mode 0600 in 0700 folders.
func TestPrivilegesWarnedAndSecretsRedacted(t *testing.T) {
	docker := testutil.RequireDocker(t)
	root := testutil.CopyWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	appendFile(t, filepath.Join(root, "services", "kvstore", "service.yaml"), "privileged: true\ndocker_socket: true\n")
	writeFile(t, filepath.Join(root, ".env"), "# per developer\nAPI_TOKEN=tok-5ecret-value\nPLAIN=visible\n")
	writeFile(t, filepath.Join(root, "clocal.local.yaml"), "env:\n  kvstore: {DB_DSN: \"postgres://app:dsn-5ecret@db:5432/x\", DB_PASSWORD: pw-5ecret}\n")
	secrets := []string{"tok-5ecret-value", "dsn-5ecret", "pw-5ecret"}

	r := mustRun(t, ctx, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
	for _, w := range []string{"warning: kvstore runs privileged", "warning: kvstore gets the Docker socket"} {
		if strings.Count(r.Err, w) != 1 {
			t.Errorf("up output has %d lines %q:\n%s", strings.Count(r.Err, w), w, r.Err)
		}
	}
	ctrs := projectContainers(t, docker, project)
	if len(ctrs) != 1 {
		t.Fatalf("%d containers", len(ctrs))
	}
	in, err := docker.ContainerInspect(ctx, ctrs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !in.HostConfig.Privileged {
		t.Errorf("container is not privileged")
	}
	sock := false
	for _, m := range in.Mounts {
		if m.Source == "/var/run/docker.sock" && m.Destination == "/var/run/docker.sock" {
			sock = true
		}
	}
	if !sock {
		t.Errorf("container has no Docker socket: %+v", in.Mounts)
	}
	env := strings.Join(in.Config.Env, "\n")
	for _, want := range []string{"API_TOKEN=tok-5ecret-value", "PLAIN=visible", "DB_PASSWORD=pw-5ecret", "DB_DSN=postgres://app:dsn-5ecret@db:5432/x"} {
		if !strings.Contains(env, want) {
			t.Errorf("container env lacks %s", want)
		}
	}
	for port, bindings := range in.HostConfig.PortBindings {
		for _, b := range bindings {
			if b.HostIP != "127.0.0.1" {
				t.Errorf("port %s bound on %q", port, b.HostIP)
			}
		}
	}

	for _, args := range [][]string{{"inspect", "kvstore"}, {"ps"}, {"ps", "--json", "-a"}, {"status"}} {
		r := mustRun(t, ctx, append([]string{"-w", root, "-p", project}, args...)...)
		for _, s := range secrets {
			if strings.Contains(r.Out+r.Err, s) {
				t.Errorf("%v shows secret %q", args, s)
			}
		}
		if args[0] == "inspect" && !strings.Contains(r.Out, "visible") {
			t.Errorf("inspect redacts everything, even PLAIN=visible:\n%s", r.Out)
		}
	}
	r = mustRun(t, ctx, "-w", root, "-p", project, "inspect", "kvstore", "--show-secrets")
	for _, s := range secrets {
		if !strings.Contains(r.Out, s) {
			t.Errorf("inspect --show-secrets hides %q", s)
		}
	}

	// The generated compose file: real values, owner-only.
	compose := filepath.Join(root, ".clocal", "projects", project, "compose.yaml")
	data, err := os.ReadFile(compose)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("tok-5ecret-value")) {
		t.Errorf("compose file lacks the real value")
	}
	for p, want := range map[string]os.FileMode{
		compose:                        0o600,
		filepath.Dir(compose):          0o700,
		filepath.Join(root, ".clocal"): 0o700,
	} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode().Perm(), want)
		}
	}
}

// TestErrorMessagesRedactCredentials: clocal's own error lines never show the password of
// credentials embedded in a URL or DSN.
func TestErrorMessagesRedactCredentials(t *testing.T) {
	var buf bytes.Buffer
	PrintError(&buf, errors.New("connect postgres://app:hunter2@db:5432/x: refused; mysql app:hunter3@tcp(db:3306)/x\nsecond line git@example.com:x/repo.git"))
	out := buf.String()
	for _, s := range []string{"hunter2", "hunter3"} {
		if strings.Contains(out, s) {
			t.Errorf("error shows %q: %s", s, out)
		}
	}
	for _, keep := range []string{"postgres://app:", "db:5432/x", "git@example.com:x/repo.git", "second line"} {
		if !strings.Contains(out, keep) {
			t.Errorf("error lost %q: %s", keep, out)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(old)+s)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
