// Command remotehost runs a second Docker host on this machine for benchmarks, exactly as the
// tests get it (internal/testutil.RemoteHost): dockerd in its own mount, network and PID
// namespaces, reached only over ssh (`sshd -i` through a ProxyCommand). It prints the shell
// line that points clocal at it, then runs until it gets SIGINT or SIGTERM, and removes
// everything. SIGUSR1 makes the host vanish at once (every process in its
// namespaces killed, as a machine that lost power) while the program keeps running.
//
//	go build -o /tmp/remotehost ./scripts/bench/remotehost
//	coproc RH { exec /tmp/remotehost; }; rh_pid=$RH_PID
//	read -r line <&"${RH[0]}"; eval "$line"    # PATH (the ssh wrapper) and DOCKER_HOST
//	...
//	kill -USR1 "$rh_pid"   # the host vanishes (optional)
//	kill "$rh_pid"         # the end: everything removed
//go:build linux

package main

import (
	"context"
	"fmt"
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
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			break
		}
		fmt.Fprintln(os.Stderr, "remotehost: the host vanishes")
		h.Vanish()
	}
	if err := h.Close(); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "remotehost:", err)
	os.Exit(1)
}
