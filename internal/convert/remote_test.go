package convert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// remoteWS is the fixture workspace without the repo-manager mount, with a config whose
// content has a $ (compose interpolation), quotes and several lines.
func remoteWS(t *testing.T, config string) string {
	t.Helper()
	dir := testutil.CopyDir(t, fixtureWS)
	sf := filepath.Join(dir, "services", "repo-manager", "service.yaml")
	data, err := os.ReadFile(sf)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "mounts:") {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(sf, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "services", "repo-manager", "config", "app.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRemoteMountRefused: a mount of a workspace folder cannot work on a Docker host that is
// another machine: one line saying which mount, which host and what to do.
func TestRemoteMountRefused(t *testing.T) {
	ws := loadWS(t, fixtureWS)
	_, err := FromWorkspace(ws, nil, Options{Remote: "ssh://devbox"})
	var me *RemoteMountError
	if !errors.As(err, &me) && (err == nil || !strings.Contains(err.Error(), "mounts./cache")) {
		t.Fatalf("FromWorkspace on a remote host with mounts: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"services/repo-manager/service.yaml", "mounts./cache", "ssh://devbox", "remove mounts./cache"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "\n") > 0 {
		t.Errorf("message is not one line: %q", msg)
	}
	// The same workspace on this machine's daemon binds it as before.
	if _, err := FromWorkspace(ws, nil, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteConfigsAsContent: on a remote host a config is sent as content (compose copies
// it into the container), never as a bind of this machine's file, and a change of the file
// changes the service (so the container is recreated with the new content).
func TestRemoteConfigsAsContent(t *testing.T) {
	content := "{\"price\": \"$5\",\n \"name\": 'x'}\n"
	root := remoteWS(t, content)
	ws := loadWS(t, root)
	sel, err := ws.Resolve([]string{"repo-manager"})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := FromWorkspace(ws, sel, Options{Remote: "ssh://devbox"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "config/app.json") {
		t.Fatalf("a remote project binds the local config file:\n%s", out)
	}
	p, err := Load(context.Background(), out, "remotecfg", root)
	if err != nil {
		t.Fatalf("compose-go rejects the project: %v\n%s", err, out)
	}
	svc := p.Services["repo-manager"]
	if len(svc.Configs) != 1 || svc.Configs[0].Target != "/etc/app/app.json" {
		t.Fatalf("service configs %+v\n%s", svc.Configs, out)
	}
	for _, v := range svc.Volumes {
		if v.Type == "bind" {
			t.Errorf("bind mount on a remote host: %+v", v)
		}
	}
	cfg := p.Configs[svc.Configs[0].Source]
	if cfg.Content != content || cfg.File != "" {
		t.Fatalf("config %q: content %q file %q, want the file's content %q", svc.Configs[0].Source, cfg.Content, cfg.File, content)
	}
	hash := svc.Labels[labels.Configs]
	if hash == "" {
		t.Fatal("no configs hash label")
	}
	// The emitter and the yaml.v3 reference agree on the new sections.
	ref, err := plan.yamlV3()
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := yaml.Unmarshal(out, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(ref, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("emitter and yaml.v3 disagree:\n%s", diffLines(string(ref), string(out)))
	}

	// An edit of the config changes the label, hence compose's config hash.
	root2 := remoteWS(t, content+" ")
	ws2 := loadWS(t, root2)
	sel2, err := ws2.Resolve([]string{"repo-manager"})
	if err != nil {
		t.Fatal(err)
	}
	plan2, err := FromWorkspace(ws2, sel2, Options{Remote: "ssh://devbox"})
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := plan2.YAML()
	p2, err := Load(context.Background(), out2, "remotecfg", root2)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Services["repo-manager"].Labels[labels.Configs] == hash {
		t.Fatal("a changed config keeps the same configs label")
	}

	// On this machine's daemon the file is bound read-only, as before.
	local, err := FromWorkspace(ws, sel, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lout, _ := local.YAML()
	if !strings.Contains(string(lout), "services/repo-manager/config/app.json:/etc/app/app.json:ro") || strings.Contains(string(lout), "content:") {
		t.Fatalf("local project:\n%s", lout)
	}
}

// TestRemoteConfigNotText: binary configs cannot travel as compose content.
func TestRemoteConfigNotText(t *testing.T) {
	root := remoteWS(t, "\xff\xfe binary")
	_, err := FromWorkspace(loadWS(t, root), nil, Options{Remote: "ssh://devbox"})
	if err == nil || !strings.Contains(err.Error(), "not UTF-8") || !strings.Contains(err.Error(), "configs[0]") {
		t.Fatalf("binary config on a remote host: %v", err)
	}
}
