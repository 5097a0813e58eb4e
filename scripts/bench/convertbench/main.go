// Command convertbench loads job files and converts them to compose YAML once, printing the
// time of each step; run it under /usr/bin/time -v for the peak RSS:
//
//	go run ./scripts/bench/genjobs -n 10000 -hosts 1000 -out scripts/bench/out/jobs
//	go build -o /tmp/convertbench ./scripts/bench/convertbench
//	/usr/bin/time -v /tmp/convertbench scripts/bench/out/jobs > /dev/null
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/job"
)

func main() {
	t0 := time.Now()
	jobs, err := job.LoadPaths(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if f := os.Getenv("CPUPROFILE"); f != "" {
		w, _ := os.Create(f)
		_ = pprof.StartCPUProfile(w)
		defer pprof.StopCPUProfile()
	}
	t1 := time.Now()
	y, err := convert.Jobs(jobs, convert.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t2 := time.Now()
	os.Stdout.Write(y)
	fmt.Fprintf(os.Stderr, "jobs=%d load=%v convert=%v total=%v yaml=%d bytes\n", len(jobs), t1.Sub(t0), t2.Sub(t1), t2.Sub(t0), len(y))
}
