package testutil

import (
	"io"
	"net"
	"testing"
)

// EchoServer listens on a free loopback port and answers every connection with what it
// reads until the client closes its side. It returns the address and a func that stops it
// (also called at test end).
func EchoServer(t testing.TB) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	stop = func() { _ = ln.Close() }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}
