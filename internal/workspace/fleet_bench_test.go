package workspace_test

import (
	"testing"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// BenchmarkLoadFleet loads generated fleets (jobs_root per host and per cluster, production
// .proto, shared ports, sidecars, split replicas; -agents: a per-host agent on every host):
//
//	go test ./internal/workspace -run '^$' -bench LoadFleet -benchmem
func BenchmarkLoadFleet(b *testing.B) {
	for _, c := range []struct {
		n      int
		agents float64
	}{{100, 0}, {300, 0}, {1000, 0}, {100, 0.3}, {1000, 0.3}} {
		n, name := c.n, itoa(c.n)
		if c.agents > 0 {
			name += "-agents" // a per-host agent reached over localhost, hosts short and full
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if err := fleet.Generate(fleet.Options{Apps: n, Hosts: max(2, n*3/10), Seed: 1, Agents: c.agents, FQDN: c.agents > 0}).Write(dir); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := workspace.Load(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	if n >= 1000 {
		return itoa(n/1000) + "k"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
