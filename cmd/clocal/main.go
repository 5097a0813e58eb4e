// Command clocal runs trimmed local stacks from production job files.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/clocal-dev/clocal/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := cli.System()
	root := cli.NewRootCmd(cli.NewFactory(io))
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil && err != nil {
		err = context.Canceled
	}
	cli.PrintError(io.ErrOut, err)
	return cli.ExitCode(err)
}
