package stack

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// TestResolveHosts: build_host decides where build.sh's docker goes when the stack runs on
// another machine; on this machine's daemon nothing changes.
func TestResolveHosts(t *testing.T) {
	t.Setenv("DOCKER_CONTEXT", "")
	remote := engine.Host{URL: "ssh://me@devbox"}
	local := engine.Host{URL: "unix:///var/run/docker.sock"}
	for _, c := range []struct {
		run     engine.Host
		setting string
		build   string
		err     string
	}{
		{run: local, setting: "", build: local.URL},
		{run: local, setting: "run", build: local.URL},
		{run: remote, setting: "", build: "unix:///var/run/docker.sock"},
		{run: remote, setting: "local", build: "unix:///var/run/docker.sock"},
		{run: remote, setting: "run", build: remote.URL},
		{run: remote, setting: "unix:///run/user/1000/docker.sock", build: "unix:///run/user/1000/docker.sock"},
		{run: remote, setting: "no-such-context-here", err: "build_host"},
	} {
		h, err := ResolveHosts(c.run, c.setting)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ResolveHosts(%v, %q): %v, want an error about %s", c.run, c.setting, err, c.err)
			}
			continue
		}
		if err != nil || h.Build.URL != c.build || h.Run != c.run {
			t.Errorf("ResolveHosts(%v, %q) = %+v, %v; want build %s", c.run, c.setting, h, err, c.build)
		}
	}
}

// TestSetHosts: a stack on another machine sends configs as content, refuses mounts, and
// gives build.sh this machine's daemon; a local stack is left as it was.
func TestSetHosts(t *testing.T) {
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_HOST", "unix:///var/run/docker.sock") // what build.sh inherits
	st := &Stack{Builder: &build.Builder{}}
	st.SetHosts(Hosts{Run: engine.Host{URL: "unix:///var/run/docker.sock"}, Build: engine.Host{URL: "unix:///var/run/docker.sock"}})
	if st.Remote() || st.Convert.Remote != "" || st.Builder.ScriptDocker != "" || st.copies() {
		t.Fatalf("local stack changed: remote=%v convert=%q script docker=%q", st.Remote(), st.Convert.Remote, st.Builder.ScriptDocker)
	}
	st.SetHosts(Hosts{Run: engine.Host{URL: "ssh://devbox"}, Build: engine.Host{URL: "unix:///var/run/docker.sock"}})
	if !st.Remote() || st.Convert.Remote != "ssh://devbox" || st.Builder.ScriptDocker != "unix:///var/run/docker.sock" || !st.copies() {
		t.Fatalf("remote stack: remote=%v convert=%q script docker=%q", st.Remote(), st.Convert.Remote, st.Builder.ScriptDocker)
	}
	st.SetHosts(Hosts{Run: engine.Host{URL: "ssh://devbox"}, Build: engine.Host{URL: "unix:///x.sock", Context: "desktop"}})
	if st.Builder.ScriptDocker != "desktop" {
		t.Fatalf("a build host from a context: script docker %q, want the context name", st.Builder.ScriptDocker)
	}
	t.Setenv("DOCKER_HOST", "ssh://devbox")
	st.SetHosts(Hosts{Run: engine.Host{URL: "ssh://devbox"}, Build: engine.Host{URL: "ssh://devbox"}})
	if st.Builder.ScriptDocker != "" || st.copies() {
		t.Fatalf("build_host: run: script docker %q copies %v", st.Builder.ScriptDocker, st.copies())
	}
	// clocal --docker-host or --context chose a daemon the environment does not name:
	// build.sh's docker is sent there too.
	t.Setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
	st.SetHosts(Hosts{Run: engine.Host{URL: "unix:///run/other.sock"}, Build: engine.Host{URL: "unix:///run/other.sock"}})
	if st.Builder.ScriptDocker != "unix:///run/other.sock" || st.copies() || st.Remote() {
		t.Fatalf("--docker-host: script docker %q copies %v remote %v", st.Builder.ScriptDocker, st.copies(), st.Remote())
	}
	st.SetHosts(Hosts{Run: engine.Host{URL: "unix:///run/other.sock", Context: "other"}, Build: engine.Host{URL: "unix:///run/other.sock", Context: "other"}})
	if st.Builder.ScriptDocker != "other" {
		t.Fatalf("--context: script docker %q, want the context name", st.Builder.ScriptDocker)
	}
}

// TestTCPHostEndpoints: a tcp:// host publishes on its own interfaces: a port bound to all
// of them is reached at the host's address, and up warns when they are on its loopback.
func TestTCPHostEndpoints(t *testing.T) {
	var out bytes.Buffer
	st := &Stack{Builder: &build.Builder{}, Out: &out, WS: &workspace.Workspace{Root: t.TempDir()}, Name: "p"}
	st.SetHosts(Hosts{Run: engine.Host{URL: "tcp://10.1.2.3:2376"}, Build: engine.Host{URL: "unix:///var/run/docker.sock"}})
	ctrs := []engine.Container{{Name: "p-a-1", Service: "a", Publishers: []engine.Publisher{
		{HostIP: "0.0.0.0", PublishedPort: 8080, TargetPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", PublishedPort: 9090, TargetPort: 90, Protocol: "tcp"},
	}}}
	eps, err := st.ContainerEndpoints(context.Background(), ctrs, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].URL != "http://10.1.2.3:8080" || eps[0].Remote != "127.0.0.1:8080" || eps[0].DockerHost != "tcp://10.1.2.3:2376" {
		t.Fatalf("endpoints %+v", eps)
	}
	st.warnUnreachablePorts()
	if !strings.Contains(out.String(), "127.0.0.1 of tcp://10.1.2.3:2376") || !strings.Contains(out.String(), "ssh://") {
		t.Fatalf("warning %q", out.String())
	}
	out.Reset()
	st.Convert.BindAddress = "0.0.0.0"
	st.warnUnreachablePorts()
	if out.Len() > 0 {
		t.Fatalf("warning with --bind 0.0.0.0: %q", out.String())
	}
}
