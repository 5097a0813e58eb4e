package router

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestRunForwardsAndStops(t *testing.T) {
	target, stopTarget := testutil.EchoServer(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { done <- Run(ctx, []string{port + "=" + target}, &stderr) }()

	// two connections at once, each answered from the target
	for i := 0; i < 2; i++ {
		got := roundTrip(t, "127.0.0.1:"+port, "ping")
		if got != "ping" {
			t.Fatalf("through the router: %q", got)
		}
	}
	// a target that is gone: the connection is closed within about a second, like a
	// refused one
	stopTarget()
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read from a router whose target is gone: %d %v, want EOF", n, err)
	}
	c.Close()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("Run = %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunBadArguments(t *testing.T) {
	taken, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, takenPort, _ := net.SplitHostPort(taken.Addr().String())
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage: router PORT=HOST:PORT"},
		{[]string{"8080"}, 2, `bad mapping "8080"`},
		{[]string{"=x:1"}, 2, "bad mapping"},
		{[]string{takenPort + "=x:1"}, 1, "address already in use"},
	} {
		var stderr bytes.Buffer
		if code := Run(context.Background(), c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("Run(%q) = %d %q, want %d %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
}

func TestProgramAndHash(t *testing.T) {
	files := Program()
	if !bytes.Equal(files["router/router.go"], source) || !bytes.Contains(files["main.go"], []byte("router.Run(")) {
		t.Fatal("the standalone program is not this package's code")
	}
	if h := Hash(); len(h) != 12 || h != Hash() || !strings.HasSuffix(Image, ":"+h) {
		t.Fatalf("Hash %q, Image %q", h, Image)
	}
	// the hash covers the code: another router is another image
	saved := source
	defer func() { source = saved }()
	before := Hash()
	source = append(append([]byte(nil), saved...), []byte("\n// changed\n")...)
	if Hash() == before {
		t.Fatal("the hash does not change with the router's code")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// roundTrip sends msg, closes the write side and reads the answer to the end, retrying the
// connection while the router starts listening.
func roundTrip(t *testing.T, addr, msg string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		defer c.Close()
		_, _ = c.Write([]byte(msg))
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
}
