package engine

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/labels"
)

func (e *composeEngine) Projects(ctx context.Context) ([]ProjectSummary, error) {
	c, err := e.conn()
	if err != nil {
		return nil, err
	}
	byLabel := filters.NewArgs(filters.Arg("label", labels.ComposeProject))
	ctrs, err := c.api.ContainerList(ctx, container.ListOptions{All: true, Filters: byLabel})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", daemonErr(c.api, err))
	}
	vols, err := c.api.VolumeList(ctx, volume.ListOptions{Filters: byLabel})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", daemonErr(c.api, err))
	}
	nets, err := c.api.NetworkList(ctx, network.ListOptions{Filters: byLabel})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", daemonErr(c.api, err))
	}

	m := map[string]*ProjectSummary{}
	get := func(name string) *ProjectSummary {
		p := m[name]
		if p == nil {
			p = &ProjectSummary{Name: name}
			m[name] = p
		}
		return p
	}
	states := map[string]map[string]int{}
	for _, ctr := range ctrs {
		name := ctr.Labels[labels.ComposeProject]
		if name == "" {
			continue
		}
		p := get(name)
		p.Containers++
		if ctr.State == container.StateRunning {
			p.Running++
		}
		if states[name] == nil {
			states[name] = map[string]int{}
		}
		states[name][ctr.State]++
		if s := ctr.Labels[labels.ComposeService]; s != "" && !contains(p.Services, s) {
			p.Services = append(p.Services, s)
		}
		if wd := ctr.Labels[labels.ComposeWorkingDir]; wd != "" && p.WorkingDir == "" {
			p.WorkingDir = wd
		}
		for _, f := range strings.Split(ctr.Labels[labels.ComposeConfigFiles], ",") {
			if f != "" && !contains(p.ConfigFiles, f) {
				p.ConfigFiles = append(p.ConfigFiles, f)
			}
		}
		if t := time.Unix(ctr.Created, 0); t.After(p.LastCreated) {
			p.LastCreated = t
		}
	}
	for _, v := range vols.Volumes {
		if name := v.Labels[labels.ComposeProject]; name != "" {
			p := get(name)
			p.Volumes = append(p.Volumes, v.Name)
		}
	}
	for _, n := range nets {
		if name := n.Labels[labels.ComposeProject]; name != "" {
			p := get(name)
			p.Networks = append(p.Networks, n.Name)
		}
	}
	out := make([]ProjectSummary, 0, len(m))
	for name, p := range m {
		sort.Strings(p.Services)
		sort.Strings(p.Volumes)
		sort.Strings(p.Networks)
		var parts []string
		for st, n := range states[name] {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, n))
		}
		sort.Strings(parts)
		p.Status = strings.Join(parts, ", ")
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// anonymousRE matches the names the daemon gives anonymous volumes.
var anonymousRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// anonymousVolumes lists the anonymous volumes mounted by the project's containers.
func (c *conn) anonymousVolumes(ctx context.Context, project string) ([]string, error) {
	ctrs, err := c.api.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project)),
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ctr := range ctrs {
		for _, m := range ctr.Mounts {
			if m.Type != mount.TypeVolume || !anonymousRE.MatchString(m.Name) || contains(out, m.Name) {
				continue
			}
			v, err := c.api.VolumeInspect(ctx, m.Name)
			if err != nil || v.Labels[labels.ComposeVolume] != "" {
				continue // gone already, or a named compose volume
			}
			out = append(out, m.Name)
		}
	}
	return out, nil
}
