package job

import (
	"strconv"
	"testing"
)

// BenchmarkParse parses a generated file of 100, 1,000 and 10,000 jobs.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		data := Generate(n, max(1, n/20))
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				jobs, errs := ParseFile("bench.job", data)
				if len(errs) > 0 || len(jobs) != n {
					b.Fatalf("%d jobs, %v", len(jobs), errs)
				}
			}
		})
	}
}
