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

var errWaitTimeout = errors.New("wait timeout")

// waitInterval is how often readiness is polled.
const waitInterval = 250 * time.Millisecond

// waitReady polls until every service has at least one container and all its containers
// are ready: running (and healthy when a healthcheck is defined), or exited with code 0
// under restart policy "no"/"on-failure" (one-shot services). It fails early when a
// container is unhealthy or exited with an error and will not be restarted.
//
// compose's own Wait is not used: it fails on one-shot services that exited 0 (unless
// another service depends on them with service_completed_successfully) and its timeout
// error does not say which service is late.
//
// timeout bounds the wait (0: none); reportTimeout is the timeout named in the error.
func waitReady(ctx context.Context, c client.APIClient, project string, services []string, timeout, reportTimeout time.Duration) error {
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
	last := map[string]string{}
	for {
		pending, failed, err := readiness(ctx, c, project, services)
		switch {
		case err != nil && ctx.Err() == nil:
			return daemonErr(c, err)
		case err == nil && len(failed) > 0:
			return &WaitError{Services: failed}
		case err == nil && len(pending) == 0:
			return nil
		case err == nil:
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

// readiness returns the services not ready yet and those that failed, with reasons.
func readiness(ctx context.Context, c client.APIClient, project string, services []string) (pending, failed map[string]string, err error) {
	list, err := serviceContainers(ctx, c, project, true)
	if err != nil {
		return nil, nil, err
	}
	byService := map[string][]container.Summary{}
	for _, ctr := range list {
		s := ctr.Labels[labels.ComposeService]
		byService[s] = append(byService[s], ctr)
	}
	pending, failed = map[string]string{}, map[string]string{}
	for _, s := range services {
		ctrs := byService[s]
		if len(ctrs) == 0 {
			pending[s] = "no container"
			continue
		}
		for _, ctr := range ctrs {
			if listedReady(ctr) {
				continue
			}
			in, err := c.ContainerInspect(ctx, ctr.ID)
			if errdefs.IsNotFound(err) {
				pending[s] = "container being replaced"
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			ready, reason, fatal := containerReady(in)
			if fatal {
				failed[s] = reason
			} else if !ready {
				pending[s] = reason
			}
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
