package convert

import (
	"context"
	"fmt"
	"testing"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// BenchmarkConvert converts job.Generate(n, n/10) jobs (about ten jobs per production host,
// so most services share a network namespace) to YAML. Parsing is not measured.
func BenchmarkConvert(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		jobs, errs := job.ParseFile("bench.job", job.Generate(n, max(n/10, 1)))
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for i := 0; i < b.N; i++ {
				y, err := Jobs(jobs, Options{})
				if err != nil {
					b.Fatal(err)
				}
				size = len(y)
			}
			b.ReportMetric(float64(size), "yaml-bytes")
		})
	}
}

// BenchmarkFleet converts generated production-shaped fleets (internal/fleet): the full
// project with profiles (`clocal config --full`), the trimmed project of one service, and
// loading that trimmed project through compose-go (what `up` does).
//
//	go test ./internal/convert -run '^$' -bench Fleet -benchmem
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{100, 1000} {
		dir := b.TempDir()
		if err := fleet.Generate(fleet.Options{Apps: n, Hosts: max(2, n*3/10), Seed: 1}).Write(dir); err != nil {
			b.Fatal(err)
		}
		ws, err := workspace.Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		// the service with the biggest closure
		target, size := "", 0
		for _, s := range ws.ServiceNames() {
			if c := len(ws.Closure([]string{s})); c > size {
				target, size = s, c
			}
		}
		b.Run(fmt.Sprintf("apps=%d/full", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Workspace(ws, nil, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		sel, err := ws.Resolve([]string{target})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("apps=%d/trimmed-%d", n, size), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Workspace(ws, sel, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		y, err := Workspace(ws, sel, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("apps=%d/compose-go-trimmed-%d", n, size), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Load(context.Background(), y, "bench", dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
