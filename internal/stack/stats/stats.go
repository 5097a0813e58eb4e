// Package stats samples the CPU and memory use of a stack's containers, per service, as
// `docker stats --no-stream` computes them: CPU as the share of the host's CPU time used
// between two samples the daemon takes a second apart (100% = one core), memory as the
// usage minus the page cache the kernel may drop (inactive files), against the
// container's limit. [Compute] is pure and unit-tested with daemon-shaped samples.
package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/container"

	"github.com/clocal-dev/clocal/internal/engine"
)

// Usage is the use of one container, or of a service's containers summed.
type Usage struct {
	Service    string  `json:"service"`
	Containers int     `json:"containers"`
	CPUPercent float64 `json:"cpu_percent"` // 100 = one core
	MemBytes   uint64  `json:"memory_bytes"`
	MemLimit   uint64  `json:"memory_limit_bytes"`
	MemPercent float64 `json:"memory_percent"`
	PIDs       uint64  `json:"pids"`
	NetRx      uint64  `json:"net_rx_bytes"`
	NetTx      uint64  `json:"net_tx_bytes"`
}

// Compute is the use a daemon stats sample says (with its previous CPU sample, as the
// daemon sends it when not streaming).
func Compute(service string, s container.StatsResponse) Usage {
	u := Usage{Service: service, Containers: 1, PIDs: s.PidsStats.Current, MemLimit: s.MemoryStats.Limit}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpuDelta > 0 && sysDelta > 0 {
		u.CPUPercent = cpuDelta / sysDelta * cpus * 100
	}
	u.MemBytes = s.MemoryStats.Usage
	// The page cache the kernel may drop is not the service's: cgroup v1 and v2 name it
	// differently.
	if v, ok := s.MemoryStats.Stats["total_inactive_file"]; ok && v < u.MemBytes {
		u.MemBytes -= v
	} else if v, ok := s.MemoryStats.Stats["inactive_file"]; ok && v < u.MemBytes {
		u.MemBytes -= v
	}
	if u.MemLimit > 0 {
		u.MemPercent = float64(u.MemBytes) / float64(u.MemLimit) * 100
	}
	for _, n := range s.Networks {
		u.NetRx += n.RxBytes
		u.NetTx += n.TxBytes
	}
	return u
}

// add sums o's counters into u (not the memory limit: whether limits add up is the
// caller's call).
func (u *Usage) add(o Usage) {
	u.Containers += o.Containers
	u.CPUPercent += o.CPUPercent
	u.MemBytes += o.MemBytes
	u.PIDs += o.PIDs
	u.NetRx += o.NetRx
	u.NetTx += o.NetTx
}

// Total is the stack's use: every counter of us summed, with no memory limit (services'
// limits are not one budget).
func Total(us []Usage) Usage {
	t := Usage{Service: "total"}
	for _, u := range us {
		t.add(u)
	}
	return t
}

// PerService sums usages by service, sorted by service (memory limits are summed too: a
// service's replicas each have their own).
func PerService(us []Usage) []Usage {
	by := map[string]*Usage{}
	for _, u := range us {
		s := by[u.Service]
		if s == nil {
			c := u
			by[u.Service] = &c
			continue
		}
		s.add(u)
		s.MemLimit += u.MemLimit
	}
	out := make([]Usage, 0, len(by))
	for _, u := range by {
		if u.MemLimit > 0 {
			u.MemPercent = float64(u.MemBytes) / float64(u.MemLimit) * 100
		}
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Docker is what Sample needs of the Engine API.
type Docker interface {
	ContainerStats(ctx context.Context, id string, stream bool) (container.StatsResponseReader, error)
}

// Sample asks the daemon for one sample of each running container, in parallel (each
// takes the daemon about a second), and returns their use per service.
func Sample(ctx context.Context, d Docker, ctrs []engine.Container) ([]Usage, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  []Usage
		errs []string
	)
	for _, c := range ctrs {
		if c.State != container.StateRunning {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := sampleOne(ctx, d, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", c.Name, err))
				return
			}
			out = append(out, u)
		}()
	}
	wg.Wait()
	if len(errs) > 0 && len(out) == 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("container stats: %s", strings.Join(errs, "; "))
	}
	return PerService(out), nil
}

func sampleOne(ctx context.Context, d Docker, c engine.Container) (Usage, error) {
	r, err := d.ContainerStats(ctx, c.ID, false)
	if err != nil {
		return Usage{}, err
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		return Usage{}, err
	}
	return Compute(c.Service, s), nil
}
