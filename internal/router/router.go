// Package router is the program of clocal's router services. A router stands for one
// production host whose jobs run in several network namespaces locally. It carries the
// host's name (a network alias) and forwards each port to the compose service owning the
// namespace of the job that listens on that port there, so that HOST:PORT reaches exactly
// that job, as in production:
//
//	router 8080=billing:8080 9000=host-node-1:9000
//
// Targets are resolved on every connection (Docker's DNS), so a replaced container is
// reached at its new address. A target that does not answer within a second closes the
// connection, as a refused one would.
//
// This file is the whole program and uses the standard library only: it is embedded
// (source.go) and compiled on its own by a Go toolchain into a FROM-scratch image, and it
// is also what `clocal __router` runs, so that clocal's own static executable can be the
// router image (internal/routerimage decides which, and tags both by the hash of this
// source).
package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Command is clocal's hidden subcommand that runs the router: `clocal __router ARGS`.
const Command = "__router"

// Run listens on every PORT of args (PORT=HOST:PORT) and forwards each connection to its
// target until ctx ends. Bad arguments exit 2, a port that cannot be listened on exits 1.
func Run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: router PORT=HOST:PORT...")
		return 2
	}
	type mapping struct{ port, target string }
	var maps []mapping
	for _, arg := range args {
		port, target, ok := strings.Cut(arg, "=")
		if !ok || port == "" || target == "" {
			fmt.Fprintf(stderr, "router: bad mapping %q (want PORT=HOST:PORT)\n", arg)
			return 2
		}
		maps = append(maps, mapping{port, target})
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	for _, m := range maps {
		ln, err := net.Listen("tcp", ":"+m.port)
		if err != nil {
			closeAll()
			fmt.Fprintf(stderr, "router: %v\n", err)
			return 1
		}
		lns = append(lns, ln)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		closeAll()
	}()
	var wg sync.WaitGroup
	for i := range lns {
		wg.Add(1)
		// arguments, not captured loop variables: the standalone build may be a Go older
		// than 1.22 (per-iteration loop variables)
		go func(ln net.Listener, target string) {
			defer wg.Done()
			serve(ctx, ln, target)
		}(lns[i], maps[i].target)
	}
	wg.Wait()
	return 0
}

func serve(ctx context.Context, ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
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
