package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/sshmux"
)

func TestHostKinds(t *testing.T) {
	for _, c := range []struct {
		url     string
		local   bool
		ssh     bool
		address string
	}{
		{"unix:///var/run/docker.sock", true, false, ""},
		{"npipe:////./pipe/docker_engine", true, false, ""},
		{"tcp://127.0.0.1:2375", true, false, ""},
		{"tcp://localhost:2375", true, false, ""},
		{"tcp://[::1]:2375", true, false, ""},
		{"tcp://10.0.0.5:2376", false, false, "10.0.0.5"},
		{"tcp://devbox.corp:2376", false, false, "devbox.corp"},
		{"ssh://devbox", false, true, "devbox"},
		{"ssh://me@devbox:2222", false, true, "devbox"},
		{"ssh://127.0.0.1", false, true, "127.0.0.1"}, // its ports are on the far side of ssh
	} {
		h := Host{URL: c.url}
		if h.Local() != c.local || h.IsSSH() != c.ssh || h.Address() != c.address {
			t.Errorf("%s: local=%v ssh=%v address=%q, want %v %v %q", c.url, h.Local(), h.IsSSH(), h.Address(), c.local, c.ssh, c.address)
		}
		want := PingTimeout
		if c.ssh {
			want = PingTimeoutSSH
		} else if !c.local {
			want = PingTimeoutTCP
		}
		if h.PingTimeout() != want {
			t.Errorf("%s: ping timeout %v, want %v", c.url, h.PingTimeout(), want)
		}
	}
}

// writeContext creates a docker context in the config folder dir, as `docker context
// create NAME --docker host=HOST` does.
func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	// The store keys a context's folder by the sha256 of its name.
	meta := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	sum := sha256Hex(name)
	p := filepath.Join(dir, "contexts", "meta", sum, "meta.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolveHost: -H, DOCKER_HOST, --context, DOCKER_CONTEXT and the current context of
// config.json are honoured in the docker CLI's order.
// The docker CLI reads DOCKER_CONFIG once per process, so the cases run in a child test
// process started with it.
func TestResolveHost(t *testing.T) {
	dir := os.Getenv("CLOCAL_RESOLVE_CHILD")
	if dir == "" {
		dir = t.TempDir()
		writeContext(t, dir, "devbox", "ssh://me@devbox")
		writeContext(t, dir, "other", "tcp://10.1.2.3:2376")
		writeContext(t, dir, "desktop", "unix:///home/me/.docker/run/docker.sock")
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"devbox"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestResolveHost$", "-test.v")
		cmd.Env = append(os.Environ(), "CLOCAL_RESOLVE_CHILD="+dir, "DOCKER_CONFIG="+dir, "DOCKER_TLS_VERIFY=", "DOCKER_HOST=", "DOCKER_CONTEXT=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	for _, c := range []struct {
		name               string
		host, ctx          string
		envHost, envCtx    string
		wantURL, wantCtx   string
		wantErr            string
		wantThisMachineURL string
	}{
		{name: "current context", wantURL: "ssh://me@devbox", wantCtx: "devbox", wantThisMachineURL: "unix:///var/run/docker.sock"},
		{name: "DOCKER_CONTEXT", envCtx: "other", wantURL: "tcp://10.1.2.3:2376", wantCtx: "other"},
		{name: "DOCKER_HOST wins over contexts", envHost: "ssh://box2", envCtx: "other", wantURL: "ssh://box2"},
		{name: "flag context wins over DOCKER_HOST", envHost: "ssh://box2", ctx: "other", wantURL: "tcp://10.1.2.3:2376", wantCtx: "other"},
		{name: "flag host", host: "unix:///run/x.sock", wantURL: "unix:///run/x.sock"},
		{name: "default context", envCtx: "default", wantURL: "unix:///var/run/docker.sock"},
		{name: "unknown context", envCtx: "nope", wantErr: `docker context "nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", c.envHost)
			t.Setenv("DOCKER_CONTEXT", c.envCtx)
			h, err := ResolveHost(c.host, c.ctx)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ResolveHost: %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.URL != c.wantURL || h.Context != c.wantCtx {
				t.Fatalf("ResolveHost = %+v, want %s (context %q)", h, c.wantURL, c.wantCtx)
			}
			if c.wantThisMachineURL != "" {
				if got := ThisMachine(h); got.URL != c.wantThisMachineURL {
					t.Fatalf("ThisMachine(%v) = %v, want %s", h, got, c.wantThisMachineURL)
				}
			}
		})
	}
	// A local current context is this machine's daemon when DOCKER_HOST points elsewhere.
	t.Setenv("DOCKER_CONTEXT", "desktop")
	if got := ThisMachine(Host{URL: "ssh://devbox"}); got.URL != "unix:///home/me/.docker/run/docker.sock" {
		t.Fatalf("ThisMachine with a local current context = %v", got)
	}
	if got := ThisMachine(Host{URL: "unix:///x.sock"}); got.URL != "unix:///x.sock" {
		t.Fatalf("ThisMachine of a local host = %v", got)
	}
}

// TestDaemonErrorRemote: a remote host that does not answer is one line naming it and
// saying what to try.
func TestDaemonErrorRemote(t *testing.T) {
	e := &DaemonError{Host: "ssh://me@devbox", Err: &sshmux.Error{Op: "connect", Msg: "ssh: connect to host devbox port 22: Connection refused", Err: errors.New("exit status 255")}}
	msg := e.Error()
	for _, want := range []string{"ssh://me@devbox", "Connection refused", `"ssh me@devbox docker version"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || !errors.Is(e, ErrDaemonUnreachable) {
		t.Errorf("message %q: want one line matching ErrDaemonUnreachable", msg)
	}
	tcp := (&DaemonError{Host: "tcp://10.0.0.5:2376", Err: errors.New("dial tcp 10.0.0.5:2376: i/o timeout\nmore")}).Error()
	if !strings.Contains(tcp, "10.0.0.5:2376") || !strings.Contains(tcp, "i/o timeout") || strings.Contains(tcp, "\n") || strings.Contains(tcp, "systemctl") {
		t.Errorf("tcp message %q", tcp)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
