package ui

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// fleet is a generated stack of n services: each depends on up to three services of
// earlier "layers" (a layered DAG like a production fleet's), with addresses and builds.
func fleet(n int) Snapshot {
	r := rand.New(rand.NewSource(1))
	g := &workspace.Graph{}
	snap := Snapshot{Project: "fleet", Targets: []string{"all"}, Up: true, Graph: g}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%04d", i)
		g.Nodes = append(g.Nodes, workspace.GraphNode{Name: name, Hosts: []string{fmt.Sprintf("host-%d", i%40)}})
		for d := 0; d < 3 && i > 0; d++ {
			to := fmt.Sprintf("svc-%04d", r.Intn(i))
			g.Edges = append(g.Edges, workspace.Edge{From: name, To: to, Kind: workspace.Inferred, Source: "x.job:3:3 (env addr=" + to + ":80)"})
		}
		snap.Services = append(snap.Services, Service{Name: name, Kind: "service", State: "running", Health: "healthy", Built: true,
			Image: "clocal/" + name + ":0123456789ab", Addresses: []Address{{Port: 80, URL: fmt.Sprintf("http://127.0.0.1:%d", 30000+i)}},
			Build: &Build{OK: true, Built: true, Duration: 1234}})
	}
	return snap
}

func TestFleetGraph(t *testing.T) {
	for _, n := range []int{60, 1000} {
		svg := RenderGraph(fleet(n).Graph)
		if got := strings.Count(svg, `class="node"`); got != n {
			t.Fatalf("%d services: %d nodes drawn", n, got)
		}
	}
}

// BenchmarkRefresh is what one change costs the server: a snapshot to JSON for every page,
// and the graph drawn (only when it changed: here every time, the worst case).
func BenchmarkRefresh(b *testing.B) {
	for _, n := range []int{8, 60, 1000} {
		for _, redraw := range []bool{false, true} {
			b.Run(fmt.Sprintf("services=%d/graph-redrawn=%v", n, redraw), func(b *testing.B) {
				f := newFake()
				f.snap = fleet(n)
				s := New(f, Options{})
				ctx := context.Background()
				s.refresh(ctx)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if redraw {
						s.graphKey = ""
					}
					s.refresh(ctx)
				}
				b.ReportMetric(float64(len(s.snap))/1024, "KB-state")
				b.ReportMetric(float64(len(s.graphSVG))/1024, "KB-graph")
			})
		}
	}
}
