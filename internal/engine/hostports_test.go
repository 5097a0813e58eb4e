package engine

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"

	"github.com/docker/docker/client"
)

// TestParseProcNetTCP reads this machine's own /proc/net/tcp and tcp6 (the format a Linux
// Docker host prints) and finds the listeners this test opens, at their addresses.
func TestParseProcNetTCP(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skipf("no /proc/net/tcp here: %v", err) // not Linux: the parser is for remote hosts
	}
	l4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	want := []Listener{{IP: net.IPv4(127, 0, 0, 1), Port: l4.Addr().(*net.TCPAddr).Port}}
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer l6.Close()
		want = append(want, Listener{IP: net.IPv6loopback, Port: l6.Addr().(*net.TCPAddr).Port})
	}
	v4, _ := os.ReadFile("/proc/net/tcp")
	v6, _ := os.ReadFile("/proc/net/tcp6")
	got := ParseProcNetTCP(string(v4) + string(v6))
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || (g.Port == w.Port && g.IP.Equal(w.IP))
		}
		if !found {
			t.Errorf("listener %v:%d not found in %v", w.IP, w.Port, got)
		}
	}
	// Established connections are not listeners.
	for _, g := range got {
		if g.Port == 0 {
			t.Errorf("port 0 listener %v", g)
		}
	}
}

func TestListenerConflicts(t *testing.T) {
	lo, any4, any6 := net.IPv4(127, 0, 0, 1), net.IPv4zero, net.IPv6unspecified
	for _, c := range []struct {
		l    Listener
		bind string
		port int
		want bool
	}{
		{Listener{lo, 8080}, "127.0.0.1", 8080, true},
		{Listener{lo, 8080}, "127.0.0.1", 8081, false},
		{Listener{lo, 8080}, "10.0.0.5", 8080, false},
		{Listener{lo, 8080}, "0.0.0.0", 8080, true},
		{Listener{any4, 8080}, "127.0.0.1", 8080, true},
		{Listener{any6, 8080}, "127.0.0.1", 8080, true},
		{Listener{net.IPv6loopback, 8080}, "127.0.0.1", 8080, false},
		{Listener{net.ParseIP("::ffff:127.0.0.1"), 8080}, "127.0.0.1", 8080, true},
		{Listener{nil, 8080}, "127.0.0.1", 8080, true},
		{Listener{lo, 8080}, "localhost", 8080, true},
		{Listener{lo, 8080}, "[::]", 8080, true},
	} {
		if got := c.l.Conflicts(c.bind, c.port); got != c.want {
			t.Errorf("%v:%d Conflicts(%s, %d) = %v, want %v", c.l.IP, c.l.Port, c.bind, c.port, got, c.want)
		}
	}
}

// TestHostListenersNeedsSSH: a daemon reached otherwise is only asked the Docker API.
func TestHostListenersNeedsSSH(t *testing.T) {
	c, err := client.NewClientWithOpts(client.WithHost("tcp://10.0.0.5:2376"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := HostListeners(context.Background(), c); !errors.Is(err, ErrNoShell) {
		t.Fatalf("HostListeners over tcp:// = %v, want ErrNoShell", err)
	}
}
