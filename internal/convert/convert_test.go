package convert

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/clocal-dev/clocal/internal/job"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/convert -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/convert -update to accept):\n%s", name, diffLines(string(want), string(got)))
	}
}

func loadJobs(t testing.TB, paths ...string) []*job.Job {
	t.Helper()
	jobs, err := job.LoadPaths(paths)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestGoldenJobs(t *testing.T) {
	jobs := loadJobs(t, "testdata/jobs")
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"jobs.yaml", Options{}},
		{"jobs-ephemeral.yaml", Options{EphemeralPorts: true, BindAddress: "0.0.0.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromJobs(jobs, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			y, err := p.YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, y)
			assertNoWarnings(t, y, ".")
			dockerComposeConfig(t, y, ".")
		})
	}
}
