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
)

func main() {
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
	root := cli.NewRootCmd(cli.NewFactory(io))
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil && err != nil {
		err = context.Canceled
	}
	cli.PrintError(io.ErrOut, err)
	return cli.ExitCode(err)
}
