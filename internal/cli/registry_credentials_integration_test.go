package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestRegistryCredentials: a registry that needs a login, reached with the credentials of
// the user's Docker config as the docker CLI finds them. With them, up pulls the service's
// image and update lists the registry's tags; without them, up fails in one line saying
// to docker login, before any container is created. The password (and its base64 form)
// shows in no output, no error and no file clocal writes.
func TestRegistryCredentials(t *testing.T) {
	docker := testutil.RequireDocker(t)
	const user = "dev"
	password := "Cr3d-" + testutil.RandName("")
	reg := testutil.StartRegistry(t, testutil.RegistryLogin(user, password))
	server := testutil.TestServerImage(t)
	ref := reg.Ref("team/private:1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := reg.PushImage(ctx, docker, server, ref); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Untag(ctx, docker, ref); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), docker, ref) })
	root := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":                "name: credtest\n",
		"services/priv/priv.job":     `job { name: "priv-1" image: "` + ref + `" run_on_host: "priv-host" envs { key: "port" value: "8080" } envs { key: "NAME" value: "priv" } }` + "\n",
		"services/priv/service.yaml": "healthcheck: {test: [CMD, /server, -healthcheck], interval: 1s, timeout: 5s, retries: 60}\n",
	})
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	writeConfig := func(cfg string) {
		if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	var seen []string
	cli := func(args ...string) result {
		r := runCLI(t, ctx, append([]string{"-w", root, "-p", project}, args...)...)
		seen = append(seen, r.Out, r.Err)
		return r
	}

	// No credentials: one line saying to log in; nothing created.
	writeConfig(`{}`)
	r := cli("up", "priv", "--ephemeral-ports")
	line := errLine(t, r)
	if r.Code != 1 || !strings.Contains(line, ref) || !strings.Contains(line, "docker login "+reg.Host) {
		t.Fatalf("up without credentials: exit %d, %q", r.Code, line)
	}
	if ctrs, nets, vols := leftovers(t, docker, project); len(ctrs)+len(nets)+len(vols) > 0 {
		t.Fatalf("a refused pull left %v %v %v", ctrs, nets, vols)
	}
	if r := cli("update", "priv", "--list", "--json"); !strings.Contains(r.Out+r.Err, "docker login "+reg.Host) {
		t.Errorf("update --list without credentials does not say docker login:\n%s\n%s", r.Out, r.Err)
	}

	// The config's credentials: up pulls, update lists the tags.
	writeConfig(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, encoded))
	if r := cli("up", "priv", "--ephemeral-ports", "--timeout", "2m"); r.Code != 0 || !strings.Contains(r.Err, "pulling "+ref) {
		t.Fatalf("up with credentials: exit %d\n%s", r.Code, r.Err)
	}
	if r := cli("update", "priv", "--list", "--json"); r.Code != 0 || !strings.Contains(r.Out, `"tag": "1"`) && !strings.Contains(r.Out, `"tag":"1"`) {
		t.Fatalf("update --list --json with credentials: exit %d\n%s\n%s", r.Code, r.Out, r.Err)
	}
	for _, args := range [][]string{{"ps", "--json"}, {"inspect", "priv"}, {"doctor", "priv"}} {
		cli(args...)
	}

	for _, text := range seen {
		if strings.Contains(text, password) || strings.Contains(text, encoded) {
			t.Fatalf("a command printed the credentials:\n%s", text)
		}
	}
	// No file clocal wrote holds them.
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), password) || strings.Contains(string(data), encoded) {
			t.Errorf("%s holds the credentials", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
