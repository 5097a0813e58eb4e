package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
)

// LifecycleOptions are the flags of start, stop and restart.
type LifecycleOptions struct {
	IO       *IOStreams
	F        *Factory
	Verb     string
	Services []string
	Timeout  time.Duration
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
	name, services, eng, err := o.F.connectServices(ctx, o.Services)
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := requireContainers(ctx, eng, name, services); err != nil {
		return err
	}
	switch o.Verb {
	case "start":
		err = eng.Start(ctx, name, services)
	case "stop":
		err = eng.Stop(ctx, name, services, engine.StopOptions{Timeout: &o.Timeout})
	case "restart":
		err = eng.Restart(ctx, name, services, engine.StopOptions{Timeout: &o.Timeout})
	}
	if err != nil {
		return err
	}
	what := strings.Join(services, ", ")
	if what == "" {
		what = "all services"
	}
	past := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[o.Verb]
	fmt.Fprintf(o.IO.ErrOut, "%s: %s: %s\n", name, what, past)
	return nil
}

// requireContainers fails with a hint when the project (or a named service) has no container.
func requireContainers(ctx context.Context, eng engine.Engine, project string, services []string) error {
	ctrs, err := eng.Ps(ctx, project, engine.PsOptions{All: true})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range ctrs {
		have[c.Service] = true
	}
	if len(ctrs) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("project %s has no containers: start it with clocal up TARGET", project)}
	}
	for _, s := range services {
		if !have[s] {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("service %s has no container in project %s: start it with clocal up %s", s, project, s)}
		}
	}
	return nil
}
