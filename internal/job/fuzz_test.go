package job

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/clocal-dev/clocal/internal/job/jobpb"
)

// FuzzParseFile checks, on any input, that ParseFile
//   - never panics;
//   - gives every error a position with Line >= 1, but the one documented
//     file-level error (a file over MaxFileSize);
//   - agrees with prototext, the authority on the syntax: what the scanner
//     refuses as a syntax error prototext refuses too, what prototext
//     accepts raises no syntax, unknown-field or type error, and prototext
//     never refuses a file the checker found nothing wrong with;
//   - for accepted input, yields the same jobs once they are re-marshalled
//     with prototext and parsed again.
func FuzzParseFile(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add(Generate(3, 2))
	f.Add([]byte(""))
	f.Add([]byte(`job [{name: "a" image: "b"}, <name: "c" image: 'd' args: ["x", 'y']>]`))
	f.Add([]byte("job{name:\"a\\x41\\101\\u00e9\" image:\"i\" cpus: -1.5e1f memory_mb: 0x10}"))

	f.Fuzz(func(t *testing.T, data []byte) {
		r := parseFile("f.job", data)
		jobs, errs := ParseFile("f.job", data)
		for _, e := range errs {
			if e.Pos.File != "f.job" {
				t.Errorf("error without file: %v", e)
			}
			if e.Pos.Line < 1 && !strings.HasPrefix(e.Msg, "file is too big") {
				t.Errorf("error without line: %q", e.Error())
			}
			if e.Pos.Col < 1 && e.Pos.Line >= 1 {
				t.Errorf("error without column: %q", e.Error())
			}
		}
		if r.fallback {
			t.Errorf("prototext refused what the checker accepted: %v", errs)
		}

		var strict jobpb.JobFile
		strictErr := prototext.Unmarshal(data, &strict)
		for _, e := range errs {
			if strictErr == nil && isTreeError(e.Msg) {
				t.Errorf("prototext accepts the input, ParseFile says %q", e.Error())
			}
			if strictErr != nil && len(errs) == 0 {
				t.Errorf("prototext refuses the input (%v), ParseFile accepts it", strictErr)
			}
		}
		if len(errs) > 0 && strings.HasPrefix(errs[0].Msg, "syntax error") && len(r.jobs) == 0 && strictErr == nil {
			t.Errorf("scanner refused what prototext accepts: %v", errs)
		}
		if len(errs) > 0 {
			return
		}
		if strictErr != nil {
			t.Fatalf("prototext refuses what ParseFile accepts: %v", strictErr)
		}

		// Round trip.
		out, err := prototext.Marshal(toProto(jobs))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		jobs2, errs2 := ParseFile("g.job", out)
		if len(errs2) > 0 {
			t.Fatalf("re-parse of\n%s\n: %v", out, errs2)
		}
		if a, b := noPos(jobs), noPos(jobs2); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the jobs:\n%#v\n%#v", a, b)
		}
	})
}

// isTreeError reports whether msg is one of the errors prototext would
// raise too (syntax, unknown field, types).
func isTreeError(msg string) bool {
	for _, p := range []string{"syntax error", "unknown field", "invalid value", "missing \":\"", "field "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func toProto(jobs []*Job) *jobpb.JobFile {
	var f jobpb.JobFile
	for _, j := range jobs {
		p := &jobpb.Job{
			Name: j.Name, Image: j.Image, RunOnHost: j.RunOnHost, Command: j.Command, Args: j.Args,
			Cpus: j.CPUs, MemoryMb: j.MemoryMB, User: j.User, WorkingDir: j.WorkingDir, Restart: j.Restart,
		}
		for _, e := range j.Envs {
			p.Envs = append(p.Envs, &jobpb.Env{Key: e.Key, Value: e.Value})
		}
		for _, v := range j.Volumes {
			p.Volumes = append(p.Volumes, &jobpb.Volume{ContainerPath: v.ContainerPath, HostPath: v.HostPath, ReadOnly: v.ReadOnly})
		}
		f.Job = append(f.Job, p)
	}
	return &f
}

// noPos copies jobs without positions.
func noPos(jobs []*Job) []Job {
	out := make([]Job, 0, len(jobs))
	for _, j := range jobs {
		c := *j
		c.Pos = Pos{}
		c.Envs = append([]Env(nil), j.Envs...)
		for i := range c.Envs {
			c.Envs[i].Pos = Pos{}
		}
		c.Volumes = append([]Volume(nil), j.Volumes...)
		for i := range c.Volumes {
			c.Volumes[i].Pos = Pos{}
		}
		out = append(out, c)
	}
	return out
}
