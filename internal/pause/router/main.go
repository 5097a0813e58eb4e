// Command router stands for one production host whose jobs run in several network
// namespaces locally. It carries the host's name (a network alias) and forwards each port to
// the compose service owning the namespace of the job that listens on that port there, so
// that HOST:PORT reaches exactly that job, as in production:
//
//	router 8080=billing:8080 9000=host-node-1:9000
//
// Targets are resolved on every connection (Docker's DNS), so a replaced container is
// reached at its new address. A target that does not answer within a second closes the
// connection, as a refused one would. clocal compiles this file (standard library only,
// CGO_ENABLED=0) into a FROM-scratch image once per daemon: see pause.EnsureRouter.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: router PORT=HOST:PORT...")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for _, arg := range os.Args[1:] {
		port, target, ok := strings.Cut(arg, "=")
		if !ok || port == "" || target == "" {
			fmt.Fprintf(os.Stderr, "router: bad mapping %q (want PORT=HOST:PORT)\n", arg)
			os.Exit(2)
		}
		ln, err := net.Listen("tcp", ":"+port)
		if err != nil {
			fmt.Fprintf(os.Stderr, "router: %v\n", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ln, target)
		}()
	}
	wg.Wait()
}

func serve(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go forward(c, target)
	}
}

// forward copies both ways, closing each direction's write side when the other ends.
func forward(c net.Conn, target string) {
	defer c.Close()
	var up net.Conn
	var err error
	deadline := time.Now().Add(time.Second)
	for {
		up, err = net.DialTimeout("tcp", target, time.Second)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}
