package convert

import (
	"fmt"
	"testing"

	"github.com/clocal-dev/clocal/internal/job"
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
