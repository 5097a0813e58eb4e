package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/ui"
	"github.com/clocal-dev/clocal/internal/watch"
)

// WatchOptions are the flags of `clocal watch`.
type WatchOptions struct {
	IO         *IOStreams
	F          *Factory
	Targets    []string
	JSON       bool
	DownOnExit bool
	Timeout    time.Duration
	Debounce   time.Duration
	Pull       registry.Policy
	// UI serves the status page while watching.
	UI   bool
	Page pageFlags
}

// NewCmdWatch creates `clocal watch [TARGET...]`.
func NewCmdWatch(f *Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	o := &WatchOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "watch [TARGET...]",
		Short: "Rebuild and replace services when their sources change",
		Long: `Watch the sources, build scripts, Dockerfiles, service files, job files and profiles of
TARGET's services (default: the targets the stack was started with). On a change the
affected service's build.sh runs, its image is built, and only its container is replaced
once healthy. A failed build or an unhealthy container leaves the previous one serving.
A job file, service file or profile change re-derives the project and applies only the
difference. Ctrl-C stops watching and leaves the stack running (--down tears it down).`,
		Example: `  clocal up repo-manager && clocal watch
  clocal watch repo-manager --json`,
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runWatch(cmd.Context(), o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print events as JSON lines")
	cmd.Flags().BoolVar(&o.DownOnExit, "down", false, "tear the stack down when watching stops")
	durationFlag(cmd.Flags(), &o.Timeout, "timeout", "", 5*time.Minute, "how long to wait for health")
	debounceFlag(cmd.Flags(), &o.Debounce)
	pullFlag(cmd, &o.Pull)
	return cmd
}

// debounceFlag defines --debounce, the quiet period after a file change before a rebuild.
func debounceFlag(fs *pflag.FlagSet, p *time.Duration) {
	fs.DurationVar(p, "debounce", watch.DefaultDebounce,
		"quiet period after a change before rebuilding (raise it if a large git checkout triggers two rebuilds)")
}

// loopOptions configure the watch loop of `watch` and `up --watch`.
type loopOptions struct {
	JSON, DownOnExit bool
	// Timeout bounds the wait for a replaced container's health.
	Timeout  time.Duration
	Debounce time.Duration
	// Page is the status page served with the watch (up --watch --ui), or nil.
	Page *ui.StackSource
}

func runWatch(ctx context.Context, o *WatchOptions) error {
	var pg *page
	if o.UI || o.Page.Open || o.Page.Addr != "" {
		var err error
		if pg, err = listenPage(o.IO, o.Page); err != nil {
			return err
		}
		defer pg.close()
	}
	st, err := o.F.Stack(ctx)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	targets := o.Targets
	state, hasState := st.LoadState()
	if len(targets) == 0 {
		if !hasState {
			return BadInputf("no running stack %s to watch: name a target (clocal watch TARGET) or start one with clocal up TARGET", st.Name)
		}
		targets = state.Targets
	}
	if hasState {
		// Keep the running stack's port mode: without this, watching a stack started with
		// --ephemeral-ports (or --bind) would recreate every container with fixed ports.
		st.Convert.EphemeralPorts, st.Convert.BindAddress = state.EphemeralPorts, state.BindAddress
	}
	if _, err := st.WS.Resolve(targets); err != nil {
		return BadInput(err)
	}
	setPull(o.IO, st, o.Pull)
	lo := loopOptions{JSON: o.JSON, DownOnExit: o.DownOnExit, Timeout: o.Timeout, Debounce: o.Debounce}
	if pg != nil {
		lo.Page = startPage(ctx, pg, st, targets, o.Timeout)
	}
	// Bring the stack to the current sources first (a no-op when it is current): files
	// changed while clocal was not watching are picked up.
	endLive := o.F.liveBuilds(st)
	res, err := st.Up(ctx, targets, stack.UpOptions{Wait: true, WaitTimeout: o.Timeout})
	endLive()
	if err != nil {
		if ctx.Err() != nil {
			return context.Canceled
		}
		return upError(err)
	}
	return runWatchLoop(ctx, o.F, st, res.Targets, res, lo)
}

// runWatchLoop watches and rebuilds the stack res describes (what Up just started) until ctx
// ends (Ctrl-C), then leaves the stack running unless downOnExit.
func runWatchLoop(ctx context.Context, f *Factory, st *stack.Stack, targets []string, res *stack.UpResult, lo loopOptions) error {
	// A remote stack's port forwards end with the watch (clocal up, port, env or ps bring
	// them back).
	defer st.StopForwards()
	jsonOut, downOnExit := lo.JSON, lo.DownOnExit
	var base devloop.Reporter = &devloop.TextReporter{W: f.IO.ErrOut}
	if jsonOut {
		base = &devloop.JSONReporter{W: f.IO.Out}
	}
	base = redactedEvents{base}
	// Every event is also logged with the stack, where a status page (clocal ui, here or
	// in another terminal) reads it.
	var reporter devloop.Reporter = &stack.EventLogReporter{Log: st.EventLog(), Next: base}
	if lo.Page != nil {
		reporter = &stack.EventLogReporter{Log: st.EventLog(), Next: ui.Tee(base, lo.Page)}
	}
	timeout := lo.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	dev := stack.NewDev(st, targets, res, timeout)
	w, err := watch.New(dev.WatchTargets(), watch.Options{Debounce: lo.Debounce})
	if err != nil {
		var le *watch.LimitError
		if errors.As(err, &le) {
			return &ExitError{Code: ExitFailure, Err: le}
		}
		return err
	}
	defer w.Close()
	dev.OnTargets = func(t []watch.Target) {
		if err := w.SetTargets(t); err != nil {
			reporter.Report(devloop.Event{Time: time.Now(), Kind: "error", Error: err.Error()})
		}
	}
	if !jsonOut {
		fmt.Fprintf(f.IO.ErrOut, "watching %d services of %s (Ctrl-C to stop; the stack keeps running)\n", len(res.Selection.Services), st.Name)
	} else {
		reporter.Report(devloop.Event{Time: time.Now(), Kind: "watching"})
	}

	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes := make(chan devloop.ChangeSet)
	asked := make(chan devloop.ChangeSet) // rebuilds asked for on the status page
	if lo.Page != nil {
		lo.Page.Attach(dev, func(cs devloop.ChangeSet) {
			select {
			case asked <- cs:
			case <-loopCtx.Done():
			}
		}, base)
	}
	go func() {
		defer close(changes)
		for {
			select {
			case <-loopCtx.Done():
				return
			case cs := <-asked:
				select {
				case changes <- cs:
				case <-loopCtx.Done():
					return
				}
			case cs, ok := <-w.Changes():
				if !ok {
					return
				}
				select {
				case changes <- cs:
				case <-loopCtx.Done():
					return
				}
			case err, ok := <-w.Errors():
				if ok {
					reporter.Report(devloop.Event{Time: time.Now(), Kind: "error", Error: err.Error()})
				}
			}
		}
	}()
	loop := &devloop.Loop{Steps: dev, Reporter: reporter}
	go func() {
		// A clocal down elsewhere ends the watch: bringing the stack back would undo it.
		if err := dev.Supervise(loopCtx, 2*time.Second, func(e devloop.Event) {
			e.Time = time.Now()
			reporter.Report(e)
		}); err != nil {
			loop.Stop(err)
		}
	}()
	err = loop.Run(loopCtx, changes)
	if errors.Is(err, devloop.ErrStackGone) {
		return nil // reported by the loop ("taken-down"); nothing left to tear down
	}
	if downOnExit {
		downCtx, cancelDown := context.WithTimeout(context.Background(), time.Minute)
		defer cancelDown()
		if derr := st.Engine.Down(downCtx, st.Name, engine.DownOptions{RemoveOrphans: true}); derr != nil {
			fmt.Fprintf(f.IO.ErrOut, "down: %v\n", derr)
		} else {
			st.RemoveState()
		}
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		if !jsonOut {
			fmt.Fprintln(f.IO.ErrOut, "stopped watching")
		}
		return context.Canceled
	}
	return err
}
