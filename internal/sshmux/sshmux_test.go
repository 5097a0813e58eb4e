package sshmux_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/sshmux"
	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, login, url string
		cmd            string
		bad            bool
	}{
		{in: "ssh://devbox", login: "devbox", url: "ssh://devbox", cmd: "docker system dial-stdio"},
		{in: "ssh://me@devbox:2222", login: "me@devbox", url: "ssh://me@devbox:2222", cmd: "docker system dial-stdio"},
		{in: "ssh://devbox/run/user/1000/docker.sock", login: "devbox", url: "ssh://devbox/run/user/1000/docker.sock", cmd: "docker --host=unix:///run/user/1000/docker.sock system dial-stdio"},
		{in: "ssh://me:secret@devbox", bad: true},
		{in: "ssh://devbox?x=1", bad: true},
		{in: "tcp://devbox", bad: true},
	} {
		d, err := sshmux.ParseURL(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseURL(%q) = %+v, want an error", c.in, d)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", c.in, err)
		}
		if d.Login() != c.login || d.URL() != c.url || strings.Join(d.DockerCommand(), " ") != c.cmd {
			t.Errorf("ParseURL(%q) = login %q url %q cmd %q", c.in, d.Login(), d.URL(), d.DockerCommand())
		}
	}
}

func TestSocketPathShort(t *testing.T) {
	p := sshmux.SocketPath(strings.Repeat("x", 500))
	if len(p) > 100 {
		t.Fatalf("socket path %q is %d bytes: over the limit of Unix socket paths", p, len(p))
	}
	if sshmux.SocketPath("a") == sshmux.SocketPath("b") {
		t.Fatal("different keys share a socket")
	}
}

// TestMasterOnSecondHost runs a master, a remote command, the Docker API bridge and a port
// forward against the second Docker host over ssh, then checks that nothing is left.
func TestMasterOnSecondHost(t *testing.T) {
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	d, err := sshmux.ParseURL(h.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A listener on the host's loopback (in its network namespace) to forward to: the
	// docker daemon there answers HTTP on a published port only, so use sshd's own session.
	sock := filepath.Join(t.TempDir(), "m.sock")
	m, err := sshmux.Start(ctx, d, sock, sshmux.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Output(ctx, "sh", "-c", `ls /tmp | wc -l; echo "it's here"`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "it's here") {
		t.Fatalf("remote command output %q", out)
	}
	conn, err := m.Dial(ctx, d.DockerCommand()...)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(conn)
	_ = conn.Close()
	if err != nil || !strings.Contains(string(resp), "OK") {
		t.Fatalf("docker API over the master: %v %q", err, resp)
	}
	if len(h.SSHProcesses()) == 0 {
		t.Fatal("SSHProcesses sees no ssh process while a master runs")
	}
	if err := m.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Fatalf("ssh processes left after Exit: %v", ps)
	}

	// Detached master with a forward: the daemon's API socket in the host's namespace is
	// reached through a TCP forward to a one-line socat-free server: dockerd publishes no TCP
	// port, so forward to the sshd session's own view of a published container port later
	// (stack tests); here a forward to a closed port must fail cleanly and Exit must end all.
	dm, err := sshmux.Start(ctx, d, filepath.Join(t.TempDir(), "d.sock"), sshmux.Options{Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := l.Addr().String()
	_ = l.Close()
	if err := dm.Forward(ctx, local, "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	c := http.Client{Timeout: 5 * time.Second}
	if _, err := c.Get("http://" + local); err == nil {
		t.Fatal("a forward to a closed port answered")
	}
	again, err := sshmux.Attach(ctx, d, dm.Socket)
	if err != nil {
		t.Fatalf("Attach to the detached master: %v", err)
	}
	if err := again.Exit(ctx); err != nil {
		t.Fatal(err)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Fatalf("ssh processes left after Exit: %v", ps)
	}
	if _, err := sshmux.Attach(ctx, d, dm.Socket); err == nil {
		t.Fatal("Attach found a master after Exit")
	}
}
