package convert

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/labels"
)

// posLine is how every problem found in a job file is reported: FILE:LINE:COL: message.
var posLine = regexp.MustCompile(`^[^:\n]+:[1-9][0-9]*:[1-9][0-9]*: \S`)

// convertChecked runs what `clocal convert FILE` does — job.ParseFile, FromJobs, YAML, then
// compose-go's loader — and checks the safety properties on the way. It returns the error
// lines (nil when the input was accepted) and the loaded project.
func convertChecked(t testing.TB, file string, data []byte) ([]string, *types.Project) {
	t.Helper()
	return convertCheckedLoad(t, file, data, true)
}

// convertCheckedLoad is convertChecked; without load the YAML is produced but not given to
// compose-go (whose loader needs minutes for the 170,000 services of a 10 MB job file).
func convertCheckedLoad(t testing.TB, file string, data []byte, load bool) ([]string, *types.Project) {
	t.Helper()
	jobs, errs := job.ParseFile(file, data)
	if len(errs) > 0 {
		for _, e := range errs {
			if e.Pos.Line < 1 && !strings.Contains(e.Msg, "too big") {
				t.Fatalf("job error without a line: %+v", e)
			}
		}
		return strings.Split(errs.Error(), "\n"), nil
	}
	plan, err := FromJobs(jobs, Options{})
	if err != nil {
		lines := strings.Split(err.Error(), "\n")
		for _, l := range lines {
			if !posLine.MatchString(l) || !strings.HasPrefix(l, file+":") {
				t.Fatalf("convert error line %q is not FILE:LINE:COL: message\ninput:\n%q", l, data)
			}
		}
		return lines, nil
	}
	yaml, err := plan.YAML()
	if err != nil {
		t.Fatalf("YAML of an accepted plan: %v\ninput:\n%q", err, data)
	}
	if !load {
		if len(plan.Services()) < len(jobs) {
			t.Fatalf("%d jobs gave %d services", len(jobs), len(plan.Services()))
		}
		if bytes.Contains(yaml, []byte("privileged")) {
			t.Fatal("output has privileged")
		}
		return nil, nil
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := Load(ctx, yaml, "fuzz", dir)
	if err != nil {
		t.Fatalf("compose-go refuses the output of accepted input: %v\ninput:\n%q\noutput:\n%s", err, data, yaml)
	}
	byJob := map[string]*job.Job{}
	for _, j := range jobs {
		byJob[j.Name] = j
	}
	jobServices := 0
	for _, s := range p.Services {
		if s.Labels[labels.Job] != "" {
			jobServices++
		}
	}
	if jobServices != len(jobs) {
		t.Fatalf("%d jobs gave %d job services", len(jobs), jobServices)
	}
	for name, s := range p.Services {
		if s.Privileged {
			t.Errorf("service %s is privileged", name)
		}
		if s.Init == nil || !*s.Init {
			t.Errorf("service %s has no init", name)
		}
		if s.Logging == nil || s.Logging.Driver != "json-file" || s.Logging.Options["max-size"] == "" || s.Logging.Options["max-file"] == "" {
			t.Errorf("service %s has no log rotation: %+v", name, s.Logging)
		}
		for _, v := range s.Volumes {
			// A job's host_path never becomes a bind mount of the developer's machine.
			if v.Type != types.VolumeTypeVolume {
				t.Errorf("service %s: volume %+v is a %s, want a named volume\ninput:\n%q", name, v, v.Type, data)
			}
			if _, ok := p.Volumes[v.Source]; !ok {
				t.Errorf("service %s: volume %s is not declared by the project", name, v.Source)
			}
		}
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s: port %+v published on %q, want 127.0.0.1", name, port, port.HostIP)
			}
		}
		if s.Labels[labels.Job] == "" {
			if role := s.Labels[labels.Role]; role != labels.RolePause && role != labels.RoleRouter {
				t.Errorf("service %s has no %s label and is not a pause service or router", name, labels.Job)
			}
			continue // the pause service owning a shared network namespace, or a host's router
		}
		j := byJob[s.Labels[labels.Job]]
		if j == nil {
			t.Fatalf("service %s: label %s=%q names no job", name, labels.Job, s.Labels[labels.Job])
		}
		// Env values arrive exactly as written in production: no interpolation, no YAML tricks.
		want := MergeEnv(j)
		if len(s.Environment) != len(want) {
			t.Errorf("service %s: %d env vars, job has %d", name, len(s.Environment), len(want))
		}
		for k, v := range want {
			got := s.Environment[k]
			if got == nil || *got != v {
				t.Errorf("service %s: env %s = %v, want %q", name, k, got, v)
			}
		}
		if s.Image != j.Image {
			t.Errorf("service %s: image %q, job says %q", name, s.Image, j.Image)
		}
	}
	return nil, p
}

// FuzzConvert: on any input, parse + convert + load never panics; rejected input gives
// FILE:LINE:COL errors; accepted input loads through compose-go with no bind mount, no
// privilege, ports on 127.0.0.1 only and env values unchanged.
//
//	go test ./internal/convert -run '^$' -fuzz FuzzConvert -fuzztime 60s
func FuzzConvert(f *testing.F) {
	for _, pattern := range []string{"../job/testdata/good/*", "../job/testdata/bad/*", "testdata/jobs/*", "testdata/hostile/*"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add(job.Generate(3, 2))
	f.Add([]byte(`job { name: "a" image: "i" envs { key: "port" value: "80" } volumes { container_path: "/d" host_path: "/" } }`))
	f.Fuzz(func(t *testing.T, data []byte) {
		convertChecked(t, "fuzz.job", data)
	})
}

// TestHostileJobs: each malformed or hostile file yields clear FILE:LINE:COL errors or a
// documented safe translation (checked by convertChecked).
func TestHostileJobs(t *testing.T) {
	deep := "job { name: \"deep\" image: \"x\" " + strings.Repeat("envs { ", 5000) + strings.Repeat("} ", 5000) + "}\n"
	var big bytes.Buffer
	for i := 0; big.Len() < 10<<20; i++ {
		fmt.Fprintf(&big, "job { name: \"j%d\" image: \"img\" run_on_host: \"h%d\" envs { key: \"port\" value: \"%d\" } }\n", i, i%50, 1000+i%60000)
	}
	cases := []struct {
		name     string
		data     []byte
		wantErr  string // substring of the errors; "" = accepted
		maxLines int    // 0: no bound
		noLoad   bool   // convert only, do not load the output through compose-go
	}{
		{"huge value", []byte("job { name: \"huge\" image: \"x\" envs { key: \"BIG\" value: \"" + strings.Repeat("v", 4<<20) + "\" } }\n"), "", 0, false},
		{"huge name", []byte("job { name: \"" + strings.Repeat("n", 1<<20) + "\" image: \"x\" }\n"), "characters long", 1, false},
		{"64-char host", []byte("job { name: \"h\" image: \"x\" run_on_host: \"" + strings.Repeat("h", 64) + "\" }\n"), "characters long", 1, false},
		{"huge env key", []byte("job { name: \"k\" image: \"x\" envs { key: \"" + strings.Repeat("K", 5000) + "\" value: \"v\" } }\n"), "", 0, false},
		{"huge host path", []byte("job { name: \"p\" image: \"x\" run_on_host: \"h\" volumes { container_path: \"/d\" host_path: \"/" + strings.Repeat("p/", 3000) + "\" } }\n"), "", 0, false},
		{"deep nesting", []byte(deep), "nesting deeper than", 1, false},
		{"NUL byte", []byte("job { name: \"a\x00\" image: \"x\" }\n"), "NUL", 1, false},
		{"invalid UTF-8", []byte("job { name: \"a\" image: \"x\xff\xfe\" }\n"), "UTF-8", 1, false},
		{"over 16 MiB", bytes.Repeat([]byte("# padding\n"), 17<<20/10), "too big", 1, false},
		{"10 MB of jobs", big.Bytes(), "", 0, true},
		{"10 MB of comments", append(bytes.Repeat([]byte("# production comment line, padding the file to 10 MB\n"), 10<<20/53), []byte("job { name: \"c\" image: \"x\" }\n")...), "", 0, false},
		{"path traversal", []byte("job { name: \"t\" image: \"x\" volumes { container_path: \"/a/../../etc\" host_path: \"/data/../../etc\" } }\n"), "..", 2, false},
		{"relative container path", []byte("job { name: \"t\" image: \"x\" volumes { container_path: \"etc\" host_path: \"/data\" } }\n"), "container", 1, false},
		{"invalid service names", []byte("job { name: \"My Job\" image: \"x\" }\njob { name: \"a/b\" image: \"x\" }\n"), "invalid job name", 2, false},
		{"env key with =", []byte("job { name: \"e\" image: \"x\" envs { key: \"A=B\" value: \"c\" } }\n"), "must not contain \"=\"", 1, false},
		{"duplicate container path", mustRead(t, "testdata/hostile/duplicate_target.job"), "both mount /data", 1, false},
	}
	for _, file := range []string{"host_paths.job", "yaml_injection.job", "names.job", "unicode.job"} {
		cases = append(cases, struct {
			name     string
			data     []byte
			wantErr  string
			maxLines int
			noLoad   bool
		}{file, mustRead(t, filepath.Join("testdata", "hostile", file)), "", 0, false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			errs, p := convertCheckedLoad(t, "hostile.job", tc.data, !tc.noLoad)
			t.Logf("%d bytes: %d error lines in %s", len(tc.data), len(errs), time.Since(start).Round(time.Millisecond))
			if tc.wantErr == "" {
				if errs != nil {
					t.Fatalf("refused: %s", strings.Join(errs, "\n"))
				}
				return
			}
			if errs == nil {
				t.Fatalf("accepted (%d services), want an error containing %q", len(p.Services), tc.wantErr)
			}
			if !strings.Contains(strings.Join(errs, "\n"), tc.wantErr) {
				t.Errorf("errors %q do not mention %q", errs, tc.wantErr)
			}
			if tc.maxLines > 0 && len(errs) > tc.maxLines {
				t.Errorf("%d error lines, want at most %d: %q", len(errs), tc.maxLines, errs)
			}
			for _, l := range errs {
				if !strings.HasPrefix(l, "hostile.job:") {
					t.Errorf("error %q does not start with the file name", l)
				}
			}
		})
	}
}

// TestHostilePaths pins the safe translations of host paths: named volumes, one per path.
func TestHostilePaths(t *testing.T) {
	_, p := convertChecked(t, "host_paths.job", mustRead(t, "testdata/hostile/host_paths.job"))
	if p == nil {
		t.Fatal("host_paths.job refused")
	}
	seen := map[string]string{}
	for _, v := range p.Services["paths"].Volumes {
		if prev, dup := seen[v.Source]; dup {
			t.Errorf("volume %s serves both %s and %s", v.Source, prev, v.Target)
		}
		seen[v.Source] = v.Target
		if strings.ContainsAny(v.Source, "/ :,~") {
			t.Errorf("volume name %q carries path characters", v.Source)
		}
	}
	if len(seen) != 7 {
		t.Errorf("%d volumes, want 7: %v", len(seen), seen)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
