// Command remotehost runs a second Docker host on this machine for benchmarks, exactly as the
// tests get it (internal/testutil.RemoteHost): dockerd in its own mount, network and PID
// namespaces, reached only over ssh (`sshd -i` through a ProxyCommand). It prints the shell
// lines that point clocal at it, then runs until stdin closes or it gets SIGINT/SIGTERM,
// and removes everything.
//
//	coproc RH { go run ./scripts/bench/remotehost; }
//	read -r line <&"${RH[0]}"; eval "$line"    # PATH (the ssh wrapper) and DOCKER_HOST
//	...
//	kill "$RH_PID"
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func main() {
	local, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		fatal(err)
	}
	h, err := testutil.NewRemoteHost(context.Background(), local)
	if err != nil {
		fatal(err)
	}
	fmt.Printf("export PATH=%s:\"$PATH\" DOCKER_HOST=%s CLOCAL_REMOTE_SOCKET=%s\n", h.BinDir, h.URL, h.Socket)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-sig:
	case <-eof:
	}
	if err := h.Close(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "remotehost:", err)
	os.Exit(1)
}
