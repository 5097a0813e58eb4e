package engine_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestRemoteHostOverSSH: DOCKER_HOST=ssh://HOST reaches the second Docker host through one
// ssh control master of the process; closing the clients leaves no ssh process; a host that
// vanished is one line naming it.
func TestRemoteHostOverSSH(t *testing.T) {
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DOCKER_HOST", h.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	host, err := engine.ResolveHost("", "")
	if err != nil || host.URL != h.URL || host.Local() {
		t.Fatalf("ResolveHost = %+v, %v", host, err)
	}
	eng, err := engine.New(ctx, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	docker, err := engine.NewAPIClient(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Both talk to the second host, not to this machine's daemon.
	remote, err := docker.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := h.Client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if remote.ID != direct.ID {
		t.Fatalf("DOCKER_HOST=%s reached daemon %s, want the second host's %s", h.URL, remote.ID, direct.ID)
	}
	if _, err := eng.Ps(ctx, "clocaltest-none", engine.PsOptions{All: true}); err != nil {
		t.Fatalf("Ps over ssh: %v", err)
	}
	if err := eng.Reconnect(ctx); err != nil {
		t.Fatalf("Reconnect: %v", err)
	}
	if err := eng.Ping(ctx); err != nil {
		t.Fatalf("Ping after Reconnect: %v", err)
	}
	// The host's own listeners, read over the same connection: a process there holding a
	// port is seen; one of this machine is not.
	there := h.Listen(t, "127.0.0.1:0").Addr().(*net.TCPAddr).Port
	here, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	ls, err := engine.HostListeners(ctx, docker)
	if err != nil {
		t.Fatalf("HostListeners: %v", err)
	}
	seen := map[int]bool{}
	for _, l := range ls {
		if l.Conflicts("127.0.0.1", l.Port) {
			seen[l.Port] = true
		}
	}
	if !seen[there] || seen[here.Addr().(*net.TCPAddr).Port] {
		t.Errorf("HostListeners: the host's port %d seen %v, this machine's %v seen %v (%v)", there, seen[there], here.Addr(), seen[here.Addr().(*net.TCPAddr).Port], ls)
	}
	// One master for the process, however many clients.
	if n := masters(h.SSHProcesses()); n != 1 {
		t.Errorf("%d ssh control masters for one process, want 1: %v", n, h.SSHProcesses())
	}
	_ = eng.Close()
	_ = docker.Close()
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Fatalf("ssh processes left after Close: %v", ps)
	}

	h.Vanish()
	errc := make(chan error, 1)
	go func() {
		_, err := engine.New(context.Background(), engine.Options{})
		errc <- err
	}()
	select {
	case err = <-errc:
	case <-time.After(60 * time.Second):
		t.Fatal("New hangs against a vanished ssh host")
	}
	if !errors.Is(err, engine.ErrDaemonUnreachable) {
		t.Fatalf("New against a vanished host: want ErrDaemonUnreachable, got %v", err)
	}
	t.Log(err)
	if msg := err.Error(); !strings.Contains(msg, h.URL) || strings.Contains(msg, "\n") {
		t.Fatalf("message %q: want one line naming %s", msg, h.URL)
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Fatalf("ssh processes left after a failed connect: %v", ps)
	}
}

func masters(ps []string) int {
	n := 0
	for _, p := range ps {
		if strings.Contains(p, " -M ") {
			n++
		}
	}
	return n
}
