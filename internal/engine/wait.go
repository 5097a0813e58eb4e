package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
)

// WaitError reports services that did not become ready. It matches [ErrNotReady].
type WaitError struct {
	// Timeout is set when the wait timed out (0 when a service failed).
	Timeout time.Duration
	// Services maps each service that is not ready to the reason, e.g. "unhealthy".
	Services map[string]string
}

func (e *WaitError) Error() string {
	names := make([]string, 0, len(e.Services))
	for n := range e.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Services[n]
	}
	if e.Timeout > 0 {
		return fmt.Sprintf("%s after %s: %s", ErrNotReady, e.Timeout, strings.Join(parts, "; "))
	}
	return fmt.Sprintf("%s: %s", ErrNotReady, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrNotReady) true.
func (e *WaitError) Is(target error) bool { return target == ErrNotReady }

// DependencyError: a service was not replaced, or not judged, because some of its
// dependencies were not ready. It is not the service's own failure (the dev loop does not
// roll it back). It matches ErrNotReady through the wrapped WaitError.
type DependencyError struct {
	Service string
	Err     error // a *WaitError naming the dependencies
	// Replaced: the new container runs (not judged); false: the previous one was kept.
	Replaced bool
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("%s not judged: its dependencies are not ready: %v", e.Service, e.Err)
}

func (e *DependencyError) Unwrap() error { return e.Err }

// InterruptedError: the context of a Replace ended. Replaced: the container change had
// begun and was finished (the new container runs, not judged); false: nothing changed.
type InterruptedError struct {
	Service  string
	Replaced bool
	Err      error // the context's error
}

func (e *InterruptedError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("%s replaced, not judged: %v", e.Service, e.Err)
	}
	return fmt.Sprintf("%s not replaced: %v", e.Service, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

var errWaitTimeout = errors.New("wait timeout")

// waitInterval is how often readiness is polled.
const waitInterval = 250 * time.Millisecond

// waitReady polls until every service has at least one container and all its containers
// are ready: running (and healthy when a healthcheck is defined: Docker says so, or
// clocal's own readiness probe passed, see ready.go), or exited with code 0 under restart
// policy "no"/"on-failure" (one-shot services). It fails early when a container exited
// with an error and will not be restarted, or failed its health checks for its own
// reasons: deps maps a service to its dependencies, and while one of them is not ready
// the service's failed checks do not count (it is judged once they are ready).
//
// compose's own Wait is not used: it fails on one-shot services that exited 0 (unless
// another service depends on them with service_completed_successfully) and its timeout
// error does not say which service is late.
//
// timeout bounds the wait (0: none); reportTimeout is the timeout named in the error.
func (c *conn) waitReady(ctx context.Context, project string, services []string, deps map[string][]string, timeout, reportTimeout time.Duration) error {
	if len(services) == 0 {
		return nil
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errWaitTimeout)
		defer cancel()
	}
	ticker := time.NewTicker(waitInterval)
	defer ticker.Stop()
	judge := map[string]time.Time{}
	want := withDeps(services, deps)
	last := map[string]string{}
	for {
		snap, err := c.snapshot(ctx, project, want, judge)
		if err != nil && ctx.Err() == nil {
			return daemonErr(c.api, err)
		}
		if err == nil {
			pending, failed := map[string]string{}, map[string]string{}
			for _, s := range services {
				st := snap[s]
				if late := notReady(snap, deps[s]); len(late) > 0 {
					judge[s] = time.Now() // not judged while a dependency is not ready
					if st.failed != "" && !st.exited {
						st.failed, st.pending = "", st.failed
					}
				}
				switch {
				case st.failed != "":
					failed[s] = st.failed
				case !st.ready:
					pending[s] = st.pending
				}
			}
			if len(failed) > 0 {
				return &WaitError{Services: failed}
			}
			if len(pending) == 0 {
				return nil
			}
			last = pending
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errWaitTimeout) {
				return &WaitError{Timeout: reportTimeout, Services: last}
			}
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// waitDependencies waits until each of deps is ready or stopped (a dependency stopped on
// purpose, or exited for good, is not coming: the dependent goes ahead and is judged by
// waitReady only once it is ready). It returns a *DependencyError naming those still
// starting when timeout passes.
func (c *conn) waitDependencies(ctx context.Context, project, service string, deps []string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errWaitTimeout)
		defer cancel()
	}
	ticker := time.NewTicker(waitInterval)
	defer ticker.Stop()
	var late map[string]string
	for {
		snap, err := c.snapshot(ctx, project, deps, nil)
		if err != nil && ctx.Err() == nil {
			return daemonErr(c.api, err)
		}
		if err == nil {
			late = map[string]string{}
			for _, d := range deps {
				if st := snap[d]; !st.ready && !st.stopped && st.failed == "" {
					late[d] = st.pending
				}
			}
			if len(late) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errWaitTimeout) {
				return &DependencyError{Service: service, Err: &WaitError{Timeout: timeout, Services: late}}
			}
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// withDeps returns services plus their dependencies, sorted, each once.
func withDeps(services []string, deps map[string][]string) []string {
	set := map[string]bool{}
	for _, s := range services {
		set[s] = true
		for _, d := range deps[s] {
			set[d] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// notReady returns the services of names that are not ready in snap, with reasons.
func notReady(snap map[string]*serviceState, names []string) map[string]string {
	late := map[string]string{}
	for _, n := range names {
		if st := snap[n]; st != nil && !st.ready {
			reason := st.pending
			if st.failed != "" {
				reason = st.failed
			}
			late[n] = reason
		}
	}
	return late
}

// serviceState is what one look at the daemon says of a service.
type serviceState struct {
	containers int
	running    bool   // every container runs
	ready      bool   // every container is ready (see waitReady)
	exited     bool   // some container exited (failed: not for a dependency's reason)
	stopped    bool   // it has containers and none runs or is about to (stopped, or exited for good)
	pending    string // why it is not ready yet
	failed     string // why it will not become ready
}

// snapshot looks at the services' containers: one container list, plus an inspect (reused
// for a second) of the containers the list does not show plainly ready. judge holds, per
// service, when its health checks started to count (zero: since the container started).
func (c *conn) snapshot(ctx context.Context, project string, services []string, judge map[string]time.Time) (map[string]*serviceState, error) {
	list, err := serviceContainers(ctx, c.api, project, true)
	if err != nil {
		return nil, err
	}
	byService := map[string][]container.Summary{}
	for _, ctr := range list {
		s := ctr.Labels[labels.ComposeService]
		byService[s] = append(byService[s], ctr)
	}
	out := make(map[string]*serviceState, len(services))
	for _, s := range services {
		st := &serviceState{running: true, ready: true}
		out[s] = st
		ctrs := byService[s]
		st.containers = len(ctrs)
		if len(ctrs) == 0 {
			st.running, st.ready, st.pending = false, false, "no container"
			continue
		}
		st.stopped = true
		for _, ctr := range ctrs {
			switch ctr.State {
			case container.StateExited, container.StateDead:
			default:
				st.stopped = false // running, restarting, created, being removed...
			}
			if ctr.State != container.StateRunning {
				st.running = false
			}
			ready, reason, fatal, err := c.containerState(ctx, ctr, judge[s])
			if err != nil {
				return nil, err
			}
			switch {
			case ready:
			case fatal:
				st.ready, st.failed = false, reason
				st.exited = st.exited || ctr.State != container.StateRunning
			default:
				st.ready = false
				if st.pending == "" {
					st.pending = reason
				}
			}
		}
	}
	return out, nil
}

// containerState says whether one container is ready, and if not why, and whether it
// never will be (fatal).
func (c *conn) containerState(ctx context.Context, ctr container.Summary, judgeFrom time.Time) (ready bool, reason string, fatal bool, err error) {
	if listedReady(ctr) {
		return true, "", false, nil
	}
	if ctr.State == container.StateCreated {
		return false, "created, not started", false, nil
	}
	in, err := c.probes.inspect(ctx, ctr)
	if errdefs.IsNotFound(err) {
		return false, "container being replaced", false, nil
	}
	if err != nil {
		return false, "", false, err
	}
	if started, ok := c.probes.recordedStart(ctr); ok && in.State != nil && in.State.StartedAt == started {
		return true, "", false, nil
	}
	ready, reason, fatal = containerReady(in)
	if ready {
		return true, "", false, nil
	}
	if r, ok := readinessOf(in); ok {
		// Docker's own probes are minutes apart (or not yet started): clocal's decide.
		v := c.probes.check(in, r, judgeFrom)
		switch {
		case v.ready:
			return true, "", false, nil
		case v.failed:
			return false, "unhealthy: " + v.detail, true, nil
		}
		return false, "health: starting" + v.detail, false, nil
	}
	return false, reason, fatal, nil
}

// readiness returns the services not ready yet and those that failed, with reasons.
func (c *conn) readiness(ctx context.Context, project string, services []string) (pending, failed map[string]string, err error) {
	snap, err := c.snapshot(ctx, project, services, nil)
	if err != nil {
		return nil, nil, err
	}
	pending, failed = map[string]string{}, map[string]string{}
	for _, s := range services {
		switch st := snap[s]; {
		case st.failed != "":
			failed[s] = st.failed
		case !st.ready:
			pending[s] = st.pending
		}
	}
	return pending, failed, nil
}

// listedReady reports whether the container list alone shows ctr ready: running, and its
// status ("Up 2 minutes (healthy)") shows no health check still starting or failing. Only
// the other containers are inspected: an inspect waits for the container's lock, which a
// running health probe holds, so inspecting a whole healthy stack costs 50–100 ms per
// container on a busy daemon, the better part of an up with nothing to do.
func listedReady(ctr container.Summary) bool {
	if ctr.State != container.StateRunning {
		return false
	}
	health, _ := statusDetails(ctr.State, ctr.Status)
	return health == "" || health == container.Healthy
}

// serviceContainers lists the project's service containers (one-off `run` containers
// aside); all includes stopped ones.
func serviceContainers(ctx context.Context, c client.APIClient, project string, all bool) ([]container.Summary, error) {
	return c.ContainerList(ctx, container.ListOptions{
		All: all,
		Filters: filters.NewArgs(
			filters.Arg("label", labels.ComposeProject+"="+project),
			filters.Arg("label", labels.ComposeOneoff+"=False"),
		),
	})
}

func containerReady(in container.InspectResponse) (ready bool, reason string, fatal bool) {
	st := in.State
	if st == nil {
		return false, "no state", false
	}
	policy := container.RestartPolicyMode("")
	if in.HostConfig != nil {
		policy = in.HostConfig.RestartPolicy.Name
	}
	switch st.Status {
	case container.StateRunning:
		if st.Health == nil {
			return true, "", false
		}
		switch st.Health.Status {
		case container.Healthy, container.NoHealthcheck:
			return true, "", false
		case container.Unhealthy:
			return false, "unhealthy" + lastProbe(st.Health), true
		default:
			return false, "health: " + st.Health.Status + lastProbe(st.Health), false
		}
	case container.StateExited, container.StateDead:
		restarts := policy == container.RestartPolicyAlways || policy == container.RestartPolicyUnlessStopped ||
			(policy == container.RestartPolicyOnFailure && st.ExitCode != 0)
		switch {
		case restarts:
			return false, fmt.Sprintf("exited with code %d, waiting for restart", st.ExitCode), false
		case st.ExitCode == 0:
			return true, "", false // one-shot service done
		default:
			return false, fmt.Sprintf("exited with code %d", st.ExitCode), true
		}
	case container.StateRestarting:
		return false, fmt.Sprintf("restarting (last exit code %d)", st.ExitCode), false
	default:
		return false, string(st.Status), false
	}
}

func lastProbe(h *container.Health) string {
	if h == nil || len(h.Log) == 0 {
		return ""
	}
	l := h.Log[len(h.Log)-1]
	out := strings.Join(strings.Fields(l.Output), " ")
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	if out == "" {
		return fmt.Sprintf(" (last check exit %d)", l.ExitCode)
	}
	return fmt.Sprintf(" (last check exit %d: %s)", l.ExitCode, out)
}
