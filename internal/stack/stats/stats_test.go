package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/clocal-dev/clocal/internal/engine"
)

// sample is a daemon stats document (cgroup v2), as GET /containers/ID/stats?stream=0
// returns it: 0.25 s of CPU time over 2 s of a 2-core host's time = 25% of a core.
const sample = `{
 "read": "2026-11-30T12:00:01Z", "preread": "2026-11-30T12:00:00Z",
 "pids_stats": {"current": 7},
 "cpu_stats": {"cpu_usage": {"total_usage": 1250000000}, "system_cpu_usage": 10000000000, "online_cpus": 2},
 "precpu_stats": {"cpu_usage": {"total_usage": 1000000000}, "system_cpu_usage": 8000000000, "online_cpus": 2},
 "memory_stats": {"usage": 52428800, "limit": 536870912, "stats": {"inactive_file": 10485760, "anon": 41943040}},
 "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}, "eth1": {"rx_bytes": 24, "tx_bytes": 12}}
}`

func decode(t *testing.T, s string) container.StatsResponse {
	t.Helper()
	var r container.StatsResponse
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCompute(t *testing.T) {
	u := Compute("kvstore", decode(t, sample))
	if !near(u.CPUPercent, 25) || u.MemBytes != 40<<20 || u.MemLimit != 512<<20 || !near(u.MemPercent, 7.8125) ||
		u.PIDs != 7 || u.NetRx != 1024 || u.NetTx != 512 || u.Containers != 1 {
		t.Fatalf("usage %+v", u)
	}
	// cgroup v1 names the page cache total_inactive_file; no previous sample: no CPU%.
	v1 := decode(t, `{"cpu_stats": {"cpu_usage": {"total_usage": 5, "percpu_usage": [1,2,3,4]}, "system_cpu_usage": 9},
		"memory_stats": {"usage": 1000, "limit": 4000, "stats": {"total_inactive_file": 200}}}`)
	if u := Compute("x", v1); u.MemBytes != 800 || !near(u.MemPercent, 20) || u.CPUPercent <= 0 {
		t.Fatalf("cgroup v1: %+v", u)
	}
	if u := Compute("x", container.StatsResponse{}); u.CPUPercent != 0 || u.MemPercent != 0 {
		t.Fatalf("empty sample: %+v", u)
	}
}

func TestPerService(t *testing.T) {
	got := PerService([]Usage{
		{Service: "web", Containers: 1, CPUPercent: 10, MemBytes: 100, MemLimit: 1000, PIDs: 2},
		{Service: "db", Containers: 1, CPUPercent: 5, MemBytes: 50, MemLimit: 100},
		{Service: "web", Containers: 1, CPUPercent: 30, MemBytes: 300, MemLimit: 1000, PIDs: 3},
	})
	if len(got) != 2 || got[0].Service != "db" || got[1].Containers != 2 || !near(got[1].CPUPercent, 40) ||
		got[1].MemBytes != 400 || !near(got[1].MemPercent, 20) || got[1].PIDs != 5 {
		t.Fatalf("per service %+v", got)
	}
}

type fakeStats map[string]string

func (f fakeStats) ContainerStats(_ context.Context, id string, stream bool) (container.StatsResponseReader, error) {
	return container.StatsResponseReader{Body: io.NopCloser(bytes.NewReader([]byte(f[id])))}, nil
}

func TestSampleSkipsStoppedContainers(t *testing.T) {
	ctrs := []engine.Container{
		{ID: "a", Service: "kvstore", State: "running"},
		{ID: "b", Service: "kvstore", State: "running"},
		{ID: "c", Service: "web", State: "exited"},
	}
	got, err := Sample(context.Background(), fakeStats{"a": sample, "b": sample}, ctrs)
	if err != nil || len(got) != 1 || got[0].Containers != 2 || !near(got[0].CPUPercent, 50) {
		t.Fatalf("sample %+v %v", got, err)
	}
}

func TestTotal(t *testing.T) {
	got := Total([]Usage{
		{Service: "a", Containers: 2, CPUPercent: 1.5, MemBytes: 10, MemLimit: 100, PIDs: 3, NetRx: 7, NetTx: 8},
		{Service: "b", Containers: 1, CPUPercent: 0.5, MemBytes: 5, MemLimit: 50, PIDs: 1, NetRx: 1, NetTx: 2},
	})
	want := Usage{Service: "total", Containers: 3, CPUPercent: 2, MemBytes: 15, PIDs: 4, NetRx: 8, NetTx: 10}
	if got != want {
		t.Fatalf("Total = %+v, want %+v (no memory limit)", got, want)
	}
}
