// Command genjobs writes N generated production jobs spread over M hosts to a folder, for
// benchmarks: go run ./scripts/bench/genjobs -n 10000 -hosts 1000 -files 10 -out scripts/bench/out/jobs
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clocal-dev/clocal/internal/job"
)

func main() {
	n := flag.Int("n", 10000, "number of jobs")
	hosts := flag.Int("hosts", 1000, "number of production hosts")
	files := flag.Int("files", 1, "number of job files to split the jobs over")
	out := flag.String("out", "scripts/bench/out/jobs", "output folder (created)")
	flag.Parse()
	if err := run(*n, *hosts, *files, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genjobs:", err)
		os.Exit(1)
	}
}

func run(n, hosts, files int, out string) error {
	if files < 1 {
		files = 1
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	data := job.Generate(n, hosts)
	// split on top-level "job " lines so every file stays valid
	starts := []int{}
	for i := 0; i < len(data); {
		if bytes.HasPrefix(data[i:], []byte("job ")) {
			starts = append(starts, i)
		}
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	per := (len(starts) + files - 1) / files
	for f := 0; f < files; f++ {
		lo := f * per
		if lo >= len(starts) {
			break
		}
		from, to := starts[lo], len(data)
		if hi := lo + per; hi < len(starts) {
			to = starts[hi]
		}
		name := filepath.Join(out, fmt.Sprintf("fleet-%03d.job", f))
		if err := os.WriteFile(name, data[from:to], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d jobs over %d hosts to %s (%d files)\n", n, hosts, out, min(files, len(starts)))
	return nil
}
