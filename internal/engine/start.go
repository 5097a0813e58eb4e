package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v2/pkg/api"
)

// dependencies returns each service's dependencies within p (services p disables or does
// not hold are not waited for), with their depends_on conditions.
func dependencies(p *types.Project) map[string]types.DependsOnConfig {
	out := map[string]types.DependsOnConfig{}
	for name, s := range p.Services {
		for dep, cfg := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok || dep == name {
				continue
			}
			if out[name] == nil {
				out[name] = types.DependsOnConfig{}
			}
			out[name][dep] = cfg
		}
	}
	return out
}

// dependencyNames flattens dependencies to names (for waitReady's judgment).
func dependencyNames(deps map[string]types.DependsOnConfig) map[string][]string {
	out := make(map[string][]string, len(deps))
	for s, d := range deps {
		for name := range d {
			out[s] = append(out[s], name)
		}
		sort.Strings(out[s])
	}
	return out
}

// startInOrder starts the containers of p's services that are not running, each service
// as soon as its dependencies meet their depends_on conditions as clocal sees them
// (service_healthy: ready, including clocal's own readiness probes; service_started:
// started; service_completed_successfully: exited 0), services with nothing to wait for
// in parallel. compose's Start does the same walk but polls every condition on a 500 ms
// ticker and trusts only Docker's health status, whose probes are minutes apart once
// healthchecks are slow (see internal/convert/health.go). Each service is still started
// by compose (secrets, configs, hooks), one service at a time with no dependency of its
// own to wait for.
//
// timeout bounds the wait for dependencies (0: none); on timeout the error names them.
func (c *conn) startInOrder(ctx context.Context, p *types.Project, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errWaitTimeout)
		defer cancel()
	}
	names := waitable(p, p.ServiceNames())
	deps := dependencies(p)
	type result struct {
		service string
		err     error
	}
	done := make(chan result, len(names))
	started := map[string]bool{}  // its containers run (or compose started them)
	starting := map[string]bool{} // a start is under way
	inFlight := 0
	defer func() {
		for ; inFlight > 0; inFlight-- {
			<-done
		}
	}()
	ticker := time.NewTicker(waitInterval)
	defer ticker.Stop()
	var last map[string]string
	for {
		snap, err := c.snapshot(ctx, p.Name, names, nil)
		if err != nil {
			if ctx.Err() != nil {
				return c.startTimeout(ctx, timeout, last)
			}
			return daemonErr(c.api, err)
		}
		for _, name := range names {
			if st := snap[name]; !starting[name] && st.containers > 0 && st.running {
				started[name] = true
			}
		}
		waiting := map[string]string{}
		for _, name := range names {
			if started[name] || starting[name] {
				continue
			}
			ok, why, err := depsMet(name, deps[name], snap, started)
			if err != nil {
				return err
			}
			if !ok {
				waiting[name] = why
				continue
			}
			starting[name] = true
			inFlight++
			go func(name string) {
				done <- result{name, c.startService(ctx, p, name)}
			}(name)
		}
		if len(started) == len(names) {
			return nil
		}
		last = waiting
		select {
		case r := <-done:
			inFlight--
			delete(starting, r.service)
			if r.err != nil {
				if ctx.Err() != nil {
					return c.startTimeout(ctx, timeout, last)
				}
				return fmt.Errorf("start %s: %w", r.service, daemonErr(c.api, r.err))
			}
			started[r.service] = true
			continue // look again at once: dependents may start now
		case <-ticker.C:
		case <-ctx.Done():
			return c.startTimeout(ctx, timeout, last)
		}
	}
}

func (c *conn) startTimeout(ctx context.Context, timeout time.Duration, waiting map[string]string) error {
	if errors.Is(context.Cause(ctx), errWaitTimeout) {
		if len(waiting) == 0 {
			waiting = map[string]string{"-": "starting"}
		}
		return &WaitError{Timeout: timeout, Services: waiting}
	}
	return ctx.Err()
}

// depsMet reports whether service may start: every dependency meets its condition. A
// required dependency that failed is an error naming it; an optional one is not waited for.
func depsMet(service string, deps types.DependsOnConfig, snap map[string]*serviceState, started map[string]bool) (bool, string, error) {
	names := make([]string, 0, len(deps))
	for d := range deps {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		cfg := deps[d]
		st := snap[d]
		if st == nil { // not a waitable service (scale 0, provider)
			continue
		}
		switch cfg.Condition {
		case types.ServiceConditionHealthy:
			if st.failed != "" {
				if !cfg.Required {
					continue
				}
				return false, "", &WaitError{Services: map[string]string{d: st.failed + " (" + service + " depends on it)"}}
			}
			if !st.ready {
				return false, "waiting for " + d + ": " + st.pending, nil
			}
		case types.ServiceConditionCompletedSuccessfully:
			if st.failed != "" {
				if !cfg.Required {
					continue
				}
				return false, "", &WaitError{Services: map[string]string{d: st.failed + " (" + service + " depends on it)"}}
			}
			if !st.ready || st.running {
				return false, "waiting for " + d + " to complete", nil
			}
		default: // service_started
			if !started[d] {
				return false, "waiting for " + d + " to start", nil
			}
		}
	}
	return true, "", nil
}

// startService starts one service's containers through compose, with no dependency to wait
// for (startInOrder did).
func (c *conn) startService(ctx context.Context, p *types.Project, service string) error {
	one, err := p.WithSelectedServices([]string{service}, types.IgnoreDependencies)
	if err != nil {
		return err
	}
	return c.svc.Start(ctx, p.Name, api.StartOptions{Project: one, Services: []string{service}})
}
