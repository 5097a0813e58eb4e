package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v2/pkg/progress"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/labels"
)

// projectFromLabels rebuilds, from the daemon's labels, the skeleton of a project that
// compose's Down needs: services (with depends_on, for the stop order), networks and
// volumes. compose can do this itself, but its version (getProjectWithResources) goes
// through compose-go's WithServicesTransform, which has a data race.
func (c *conn) projectFromLabels(ctx context.Context, project string) (*types.Project, error) {
	byProject := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))
	ctrs, err := c.api.ContainerList(ctx, container.ListOptions{All: true, Filters: byProject})
	if err != nil {
		return nil, err
	}
	p := &types.Project{Name: project, Services: types.Services{}, Networks: types.Networks{}, Volumes: types.Volumes{}}
	deps := map[string]string{}
	for _, ctr := range ctrs {
		if ctr.Labels[labels.ComposeOneoff] == "True" {
			continue
		}
		name := ctr.Labels[labels.ComposeService]
		if name == "" {
			continue
		}
		s, ok := p.Services[name]
		if !ok {
			s = types.ServiceConfig{Name: name, Image: ctr.Image, Labels: ctr.Labels}
		}
		n := s.GetScale()
		if !ok {
			n = 0
		}
		n++
		s.Scale = &n
		p.Services[name] = s
		deps[name] = ctr.Labels[labels.ComposeDependencies]
	}
	for name, d := range deps {
		s := p.Services[name]
		for _, dep := range strings.Split(d, ",") {
			parts := strings.Split(dep, ":")
			if parts[0] == "" || parts[0] == name {
				continue
			}
			if _, ok := p.Services[parts[0]]; !ok {
				continue
			}
			if s.DependsOn == nil {
				s.DependsOn = types.DependsOnConfig{}
			}
			cond := types.ServiceConditionStarted
			if len(parts) > 1 {
				cond = parts[1]
			}
			s.DependsOn[parts[0]] = types.ServiceDependency{Condition: cond, Required: false}
		}
		p.Services[name] = s
	}
	vols, err := c.api.VolumeList(ctx, volume.ListOptions{Filters: byProject})
	if err != nil {
		return nil, err
	}
	for _, v := range vols.Volumes {
		key := v.Labels[labels.ComposeVolume]
		if key == "" {
			key = v.Name
		}
		p.Volumes[key] = types.VolumeConfig{Name: v.Name, Driver: v.Driver, Labels: v.Labels}
	}
	nets, err := c.api.NetworkList(ctx, network.ListOptions{Filters: byProject})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		key := n.Labels[labels.ComposeNetwork]
		if key == "" {
			key = n.Name
		}
		p.Networks[key] = types.NetworkConfig{Name: n.Name, Driver: n.Driver, Labels: n.Labels}
	}
	return p, nil
}

// restart restarts the containers of services (nil: all) in parallel, reporting progress
// like compose. compose's Restart is not used: it has a data race (a shared err variable
// written by parallel goroutines) and goes through WithServicesTransform.
func (c *conn) restart(ctx context.Context, project string, services []string, o StopOptions) error {
	ctrs, err := serviceContainers(ctx, c.api, project, true)
	if err != nil {
		return err
	}
	for _, s := range services {
		if !slices.ContainsFunc(ctrs, func(c container.Summary) bool { return c.Labels[labels.ComposeService] == s }) {
			return fmt.Errorf("no container found for service %q", s)
		}
	}
	var timeout *int
	if o.Timeout != nil {
		t := int(o.Timeout.Seconds())
		timeout = &t
	}
	return progress.Run(ctx, func(ctx context.Context) error {
		w := progress.ContextWriter(ctx)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, ctr := range ctrs {
			if len(services) > 0 && !slices.Contains(services, ctr.Labels[labels.ComposeService]) {
				continue
			}
			name := "Container " + strings.TrimPrefix(firstName(ctr.Names), "/")
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.Event(progress.RestartingEvent(name))
				c.probes.forgetRecorded([]container.Summary{ctr}) // its readiness is to be found again
				if err := c.api.ContainerRestart(ctx, ctr.ID, container.StopOptions{Timeout: timeout}); err != nil {
					w.Event(progress.ErrorMessageEvent(name, err.Error()))
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				w.Event(progress.StartedEvent(name))
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}, c.cli.Err())
}

func firstName(names []string) string {
	for _, n := range names {
		if strings.LastIndex(n, "/") == 0 {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}
