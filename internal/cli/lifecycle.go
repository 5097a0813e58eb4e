package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
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
	JSON        bool
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
	addJSONFlag(cmd, &o.JSON)
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
	past := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[o.Verb]
	if o.JSON {
		ctrs, err := actionContainers(ctx, st, services)
		if err != nil {
			return err
		}
		return writeJSON(o.IO.Out, actionJSON{Project: st.Name, Action: past, Containers: ctrs})
	}
	what := strings.Join(services, ", ")
	if what == "" {
		what = "all services"
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %s: %s\n", st.Name, what, past)
	return nil
}

// actionJSON is the result of start, stop, restart and down with --json.
type actionJSON struct {
	Project string `json:"project"`
	Action  string `json:"action"` // started, stopped, restarted, down
	// Containers are the services' containers after the action (down: the ones removed).
	Containers []containerJSON `json:"containers"`
	// Volumes is true when down removed the named data volumes too (-v).
	Volumes bool `json:"volumes,omitempty"`
}

// containerJSON is one container in an action's result.
type containerJSON struct {
	Service   string    `json:"service"`
	Name      string    `json:"name"`
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Health    string    `json:"health,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
}

// actionContainers lists the containers of services (none: all) as they are now, with when
// each was last started (so a caller can tell a restart from a no-op).
func actionContainers(ctx context.Context, st *stack.Stack, services []string) ([]containerJSON, error) {
	ctrs, err := st.Engine.Ps(ctx, st.Name, engine.PsOptions{All: true, Services: services})
	if err != nil {
		return nil, err
	}
	out := make([]containerJSON, 0, len(ctrs))
	for _, c := range ctrs {
		cj := containerJSON{Service: c.Service, Name: c.Name, ID: c.ID, State: c.State, Health: c.Health}
		if st.Docker != nil {
			if insp, err := st.Docker.ContainerInspect(ctx, c.ID); err == nil && insp.State != nil {
				cj.StartedAt, _ = time.Parse(time.RFC3339Nano, insp.State.StartedAt)
			}
		}
		out = append(out, cj)
	}
	return out, nil
}
