package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack"
)

// LifecycleOptions are the flags of start, stop and restart.
type LifecycleOptions struct {
	IO       *IOStreams
	F        *Factory
	Verb     string
	Services []string
	Timeout  time.Duration
	// Wait and WaitTimeout: start and restart wait until the services are healthy.
	Wait        bool
	WaitTimeout time.Duration
}

func newLifecycleCmd(f *Factory, verb, short, long string, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	o := &LifecycleOptions{IO: f.IO, F: f, Verb: verb}
	cmd := &cobra.Command{
		Use:               verb + " [SERVICE...]",
		Short:             short,
		Long:              long,
		Example:           fmt.Sprintf("  clocal %s repo-manager\n  clocal %s repo-manager-3   # a job name works too", verb, verb),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Services = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLifecycle(cmd.Context(), o)
		},
	}
	if verb != "start" {
		durationFlag(cmd.Flags(), &o.Timeout, "timeout", "t", 10*time.Second, "graceful stop timeout")
	}
	if verb != "stop" {
		cmd.Flags().BoolVar(&o.Wait, "wait", true, "wait until the services are healthy (--wait=false returns once started)")
		durationFlag(cmd.Flags(), &o.WaitTimeout, "wait-timeout", "", 5*time.Minute, "how long to wait for health")
	}
	return cmd
}

// NewCmdStart creates `clocal start`.
func NewCmdStart(f *Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	return newLifecycleCmd(f, "start", "Start stopped services (and their dependencies)",
		"Start existing containers of the services (all when none is named). To create them, use clocal up.", runF)
}

// NewCmdStop creates `clocal stop`.
func NewCmdStop(f *Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	return newLifecycleCmd(f, "stop", "Stop services without removing them",
		"Stop the running containers of the services (all when none is named). clocal start brings them back.", runF)
}

// NewCmdRestart creates `clocal restart`.
func NewCmdRestart(f *Factory, runF func(context.Context, *LifecycleOptions) error) *cobra.Command {
	return newLifecycleCmd(f, "restart", "Restart services (picks up changed local config files)",
		"Restart the containers of the services (all when none is named). Config files mounted from the workspace are re-read; no rebuild happens.", runF)
}

func runLifecycle(ctx context.Context, o *LifecycleOptions) error {
	services, err := resolveServices(o.F, o.Services)
	if err != nil {
		return err
	}
	st, err := o.F.Stack(ctx)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	so := stack.ServiceOptions{Wait: o.Wait, WaitTimeout: o.WaitTimeout}
	if o.Verb != "start" {
		so.StopTimeout = &o.Timeout
	}
	// The stack layer takes the project lock, waits for health and records a stop as
	// deliberate (a watch does not undo it): the status page's buttons go the same way.
	switch o.Verb {
	case "start":
		err = st.StartServices(ctx, services, so)
	case "stop":
		err = st.StopServices(ctx, services, so)
	case "restart":
		err = st.RestartServices(ctx, services, so)
	}
	if errors.Is(err, stack.ErrNoContainers) {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	if err != nil {
		return upError(err)
	}
	what := strings.Join(services, ", ")
	if what == "" {
		what = "all services"
	}
	past := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[o.Verb]
	fmt.Fprintf(o.IO.ErrOut, "%s: %s: %s\n", st.Name, what, past)
	return nil
}
