package workspace_test

import (
	"testing"

	"github.com/clocal-dev/clocal/internal/fleet"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// BenchmarkLoadFleet loads generated fleets (jobs_root per host and per cluster, production
// .proto, shared ports, sidecars, split replicas):
//
//	go test ./internal/workspace -run '^$' -bench LoadFleet -benchmem
func BenchmarkLoadFleet(b *testing.B) {
	for _, n := range []int{100, 300, 1000} {
		b.Run(itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			if err := fleet.Generate(fleet.Options{Apps: n, Hosts: max(2, n*3/10), Seed: 1}).Write(dir); err != nil {
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
