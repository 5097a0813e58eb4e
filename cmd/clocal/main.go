// Command clocal runs trimmed local stacks from production job files.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/cli"
	"github.com/clocal-dev/clocal/internal/router"
)

func main() {
	// `clocal __router ARGS` is the router service (internal/router) when this executable is
	// the router image: dispatched before anything else, with the default signal handling
	// (SIGTERM ends it at once), and hidden from the command tree.
	if len(os.Args) > 1 && os.Args[1] == router.Command {
		os.Exit(router.Run(context.Background(), os.Args[2:], os.Stderr))
	}
	os.Exit(run())
}

func run() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	io := cli.System()
	// The first Ctrl-C (or SIGTERM) cancels: builds stop, an interrupted up cleans up
	// after itself, a watch leaves the stack running. A second one does not wait for that.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(io.ErrOut, "clocal: stopping (press Ctrl-C again to force)")
		cancel()
		<-sigs
		build.KillRunning()
		fmt.Fprintln(io.ErrOut, "clocal: forced exit (second interrupt); if a stack was half changed, clocal up or clocal down sets it straight")
		os.Exit(cli.ExitInterrupted)
	}()
	f := cli.NewFactory(io)
	// This executable serves `clocal __router`: when it is a static Linux executable it can
	// be the router image itself (internal/routerimage checks).
	if exe, err := os.Executable(); err == nil {
		f.RouterExecutable = exe
	}
	root := cli.NewRootCmd(f)
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil && err != nil {
		err = context.Canceled
	}
	cli.PrintError(io.ErrOut, err)
	return cli.ExitCode(err)
}
