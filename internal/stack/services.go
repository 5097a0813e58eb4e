package stack

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
)

// ServiceOptions configure StartServices, StopServices and RestartServices.
type ServiceOptions struct {
	// StopTimeout bounds the graceful stop (nil: the service's default).
	StopTimeout *time.Duration
	// Wait waits (start, restart) until the services are ready: running, and healthy when
	// they define a healthcheck.
	Wait bool
	// WaitTimeout bounds Wait (0: no bound other than ctx).
	WaitTimeout time.Duration
}

// StartServices starts the stopped containers of services (nil: all) and their
// dependencies, under the project lock, then waits for them to be ready. A service stopped
// on purpose (StopServices) is no longer held stopped.
func (s *Stack) StartServices(ctx context.Context, services []string, o ServiceOptions) error {
	return s.serviceOp(ctx, services, func() error {
		if err := s.Engine.Start(ctx, s.Name, services); err != nil {
			return err
		}
		s.releaseRunning(ctx, services)
		return s.waitServices(ctx, services, o)
	})
}

// StopServices stops the running containers of services (nil: all) under the project lock
// and records them as stopped on purpose, so a watch of the stack does not bring them back.
func (s *Stack) StopServices(ctx context.Context, services []string, o ServiceOptions) error {
	return s.serviceOp(ctx, services, func() error {
		// Recorded first: a watch's supervisor that looks between the stop and the record
		// would otherwise start the service again.
		s.holdStopped(services, true)
		return s.Engine.Stop(ctx, s.Name, services, engine.StopOptions{Timeout: o.StopTimeout})
	})
}

// RestartServices restarts the containers of services (nil: all) under the project lock,
// then waits for them to be ready.
func (s *Stack) RestartServices(ctx context.Context, services []string, o ServiceOptions) error {
	return s.serviceOp(ctx, services, func() error {
		if err := s.Engine.Restart(ctx, s.Name, services, engine.StopOptions{Timeout: o.StopTimeout}); err != nil {
			return err
		}
		s.releaseRunning(ctx, services)
		return s.waitServices(ctx, services, o)
	})
}

// ErrNoContainers is returned (wrapped) by the service operations when the project, or a
// named service, has no container.
var ErrNoContainers = fmt.Errorf("no containers")

// serviceOp checks that the services have containers and runs op under the project lock.
func (s *Stack) serviceOp(ctx context.Context, services []string, op func() error) error {
	unlock, err := s.LockProject(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.requireContainers(ctx, services); err != nil {
		return err
	}
	return op()
}

// requireContainers fails with a hint when the project (or a named service) has no container.
func (s *Stack) requireContainers(ctx context.Context, services []string) error {
	ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{All: true, Quick: true})
	if err != nil {
		return err
	}
	if len(ctrs) == 0 {
		return fmt.Errorf("project %s has no containers: start it with clocal up TARGET (%w)", s.Name, ErrNoContainers)
	}
	for _, svc := range services {
		if !slices.ContainsFunc(ctrs, func(c engine.Container) bool { return c.Service == svc }) {
			return fmt.Errorf("service %s has no container in project %s: start it with clocal up %s (%w)", svc, s.Name, svc, ErrNoContainers)
		}
	}
	return nil
}

func (s *Stack) waitServices(ctx context.Context, services []string, o ServiceOptions) error {
	if !o.Wait {
		return nil
	}
	return s.Engine.Wait(ctx, s.Name, services, o.WaitTimeout)
}

// releaseRunning ends the hold of services (nil: all) and of any held service that runs
// again (start brings dependencies up too): a watch brings those back again when they die.
func (s *Stack) releaseRunning(ctx context.Context, services []string) {
	st, ok := s.LoadState()
	if !ok || len(st.Stopped) == 0 {
		return
	}
	release := append([]string(nil), services...)
	if len(services) == 0 {
		release = st.Stopped
	}
	if ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{Quick: true}); err == nil {
		for _, c := range ctrs {
			if c.State == "running" {
				release = append(release, c.Service)
			}
		}
	}
	s.holdStopped(release, false)
}

// ReleaseHeld ends the hold of a service that runs again (the dev loop replaced it): only
// when it is held, so the state is not rewritten on every replace.
func (s *Stack) ReleaseHeld(service string) {
	if st, ok := s.LoadState(); ok && slices.Contains(st.Stopped, service) {
		s.holdStopped([]string{service}, false)
	}
}

// holdStopped adds services to (or removes them from) the state's stopped set. nil services
// means all of the stack's. Nothing is recorded for a stack without state.
func (s *Stack) holdStopped(services []string, stopped bool) {
	st, ok := s.LoadState()
	if !ok {
		return
	}
	if len(services) == 0 {
		services = st.Services
	}
	set := map[string]bool{}
	for _, n := range st.Stopped {
		set[n] = true
	}
	for _, n := range services {
		set[n] = stopped
	}
	st.Stopped = nil
	for n, on := range set {
		if on {
			st.Stopped = append(st.Stopped, n)
		}
	}
	sort.Strings(st.Stopped)
	_ = s.SaveState(st)
}
