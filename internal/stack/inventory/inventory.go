// Package inventory lists the compose projects on a Docker daemon with their containers,
// networks and volumes, and tells clocal's stacks from other projects. `clocal ls`
// summarises them ([Summarize], pure); `clocal prune` decides which are stale.
package inventory

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
)

// Docker is what Collect reads of the Engine API.
type Docker interface {
	ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error)
	NetworkList(ctx context.Context, o network.ListOptions) ([]network.Summary, error)
	VolumeList(ctx context.Context, o volume.ListOptions) (volume.ListResponse, error)
}

// Engine is what Collect needs of the compose engine.
type Engine interface {
	Projects(ctx context.Context) ([]engine.ProjectSummary, error)
}

// Stack is one compose project found on the daemon, with its objects.
type Stack struct {
	Name        string
	WorkingDir  string // the workspace it was started from (compose's working_dir label)
	Containers  []container.Summary
	Networks    []network.Summary
	Volumes     []*volume.Volume
	LastCreated time.Time // the newest container's or network's creation
	// FirstCreated is the oldest container's or network's creation: the stack's age.
	FirstCreated time.Time
}

// Collect lists the compose projects on the daemon (only the project named only, when not
// empty) with their containers, networks and volumes.
func Collect(ctx context.Context, eng Engine, d Docker, only string) ([]Stack, error) {
	projects, err := eng.Projects(ctx)
	if err != nil {
		return nil, err
	}
	var out []Stack
	for _, p := range projects {
		if only != "" && p.Name != only {
			continue
		}
		f := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+p.Name))
		s := Stack{Name: p.Name, WorkingDir: p.WorkingDir, LastCreated: p.LastCreated}
		if s.Containers, err = d.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err != nil {
			return nil, err
		}
		if s.Networks, err = d.NetworkList(ctx, network.ListOptions{Filters: f}); err != nil {
			return nil, err
		}
		vols, err := d.VolumeList(ctx, volume.ListOptions{Filters: f})
		if err != nil {
			return nil, err
		}
		s.Volumes = vols.Volumes
		first := func(t time.Time) {
			if !t.IsZero() && (s.FirstCreated.IsZero() || t.Before(s.FirstCreated)) {
				s.FirstCreated = t
			}
		}
		for _, n := range s.Networks {
			if n.Created.After(s.LastCreated) {
				s.LastCreated = n.Created
			}
			first(n.Created)
		}
		for _, c := range s.Containers {
			if s.WorkingDir == "" {
				s.WorkingDir = c.Labels[labels.ComposeWorkingDir]
			}
			t := time.Unix(c.Created, 0)
			if t.After(s.LastCreated) {
				s.LastCreated = t
			}
			first(t)
		}
		out = append(out, s)
	}
	return out, nil
}

// IsClocal tells clocal's stacks from other compose projects: clocal labels every service
// container (labels.Service) and every data volume (labels.HostPath), and names the
// project network "clocal".
func IsClocal(s Stack) bool {
	for _, c := range s.Containers {
		if _, ok := c.Labels[labels.Service]; ok {
			return true
		}
	}
	if len(s.Containers) > 0 {
		return false // containers without clocal's labels: someone else's project
	}
	for _, v := range s.Volumes {
		if _, ok := v.Labels[labels.HostPath]; ok {
			return true
		}
	}
	for _, n := range s.Networks {
		if n.Labels[labels.ComposeNetwork] == "clocal" {
			return true
		}
	}
	return false
}

// Summary is one line of `clocal ls`.
type Summary struct {
	Project string `json:"project"`
	// Workspace is the folder the stack was started from ("" when only networks or
	// volumes are left).
	Workspace string `json:"workspace"`
	// Owner is the process a test stack belongs to ("pid 1234 on host", "" for others),
	// OwnerAlive whether it still runs.
	Owner      string `json:"owner,omitempty"`
	OwnerAlive bool   `json:"owner_alive,omitempty"`
	// State is running (every container runs), partial (some do), stopped (none does) or
	// leftovers (no container: networks or volumes only).
	State    string    `json:"state"`
	Running  int       `json:"running"`
	Total    int       `json:"total"`
	Services []string  `json:"services"`
	Created  time.Time `json:"created,omitzero"`
	// Clocal is false for compose projects clocal did not create (ls --all).
	Clocal bool `json:"clocal"`
}

// Summarize is the planner of `clocal ls`: one summary per stack (only clocal's unless
// all), sorted by project. alive tells whether an owner process recorded on this host
// still runs.
func Summarize(stacks []Stack, hostname string, alive func(pid int, start string) bool, all bool) []Summary {
	out := []Summary{}
	for _, s := range stacks {
		ours := IsClocal(s)
		if !ours && !all {
			continue
		}
		sum := Summary{Project: s.Name, Workspace: s.WorkingDir, Total: len(s.Containers), Created: s.FirstCreated, Clocal: ours, Services: []string{}}
		seen := map[string]bool{}
		for _, c := range s.Containers {
			if c.State == container.StateRunning {
				sum.Running++
			}
			svc := c.Labels[labels.ComposeService]
			if svc != "" && !seen[svc] {
				seen[svc] = true
				sum.Services = append(sum.Services, svc)
			}
			if sum.Owner == "" {
				if pid, err := strconv.Atoi(c.Labels[labels.OwnerPID]); err == nil {
					host := c.Labels[labels.OwnerHost]
					sum.Owner = fmt.Sprintf("pid %d on %s", pid, host)
					sum.OwnerAlive = host == hostname && alive(pid, c.Labels[labels.OwnerStart])
				}
			}
		}
		sort.Strings(sum.Services)
		switch {
		case sum.Total == 0:
			sum.State = "leftovers"
		case sum.Running == sum.Total:
			sum.State = "running"
		case sum.Running == 0:
			sum.State = "stopped"
		default:
			sum.State = "partial"
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}
