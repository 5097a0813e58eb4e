package job

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

func compile(t *testing.T, c SchemaConfig) *Schema {
	t.Helper()
	c.Dir = "testdata/schema"
	s, err := CompileSchema(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProductionSchema reads a job file with production's own .proto: mapped fields by
// name (under other field numbers and types), every other field kept as JSON.
func TestProductionSchema(t *testing.T) {
	s := compile(t, SchemaConfig{Proto: "deploy.proto", Message: "prod.deploy.JobFile"})
	if s.Source != "deploy.proto (prod.deploy.JobFile)" || s.Builtin {
		t.Errorf("source %q builtin %v", s.Source, s.Builtin)
	}
	jobs, err := s.LoadPaths([]string{"testdata/schema/fleet.job"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("%d jobs", len(jobs))
	}
	j := jobs[0]
	if j.Name != "billing-1" || j.Image != "registry.acme.io/pay/billing:2024.11" || j.RunOnHost != "node-1" ||
		j.CPUs != 1.5 || j.MemoryMB != 512 || len(j.Envs) != 2 || j.Envs[1].Value != "ledger-1:9000" {
		t.Errorf("mapped fields: %+v", j)
	}
	if j.Envs[1].Pos.String() != "testdata/schema/fleet.job:8:3" {
		t.Errorf("env position %s", j.Envs[1].Pos)
	}
	want := `{"labels":{"team":"payments","tier":"gold"},"instances":3,"tier":"CRITICAL","limits":{"open_files":"65536"},"grace":"30s","owners":["ana","li"]}`
	if string(j.Extra) != want {
		t.Errorf("extra\n got %s\nwant %s", j.Extra, want)
	}
	if jobs[1].Extra != nil {
		t.Errorf("ledger-1 has no extra fields, got %s", jobs[1].Extra)
	}
}

// TestSchemaErrors: a field the schema lacks is FILE:LINE:COL (with the schema's own names
// in suggestions, and no built-in hint); a wrong type too.
func TestSchemaErrors(t *testing.T) {
	s := compile(t, SchemaConfig{Proto: "deploy.proto", Message: "prod.deploy.JobFile"})
	src := "job {\n  name: \"a\"\n  image: \"b\"\n  instance: 2\n  replicas: 3\n  tier: GOLD\n  labels { key: \"x\" value: 1 }\n}\n"
	_, errs := s.ParseFile("f.job", []byte(src))
	got := errs.Error()
	for _, w := range []string{
		`f.job:4:3: unknown field "instance" in job (did you mean "instances"?)`,
		`f.job:5:3: unknown field "replicas" in job` + "\n",
		`f.job:6:9: invalid value GOLD for field "tier": want an enum value`,
	} {
		if !strings.Contains(got+"\n", w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if strings.Contains(got, "built-in schema") {
		t.Errorf("the built-in hint is for the built-in schema only:\n%s", got)
	}
}

func TestSchemaRenamedFields(t *testing.T) {
	s := compile(t, SchemaConfig{Proto: "renamed.proto", Message: "legacy.Deployment", Fields: map[string]string{
		"name": "id", "run_on_host": "host", "envs": "env", "envs.key": "k", "envs.value": "v", "memory_mb": "mem"}})
	jobs, err := s.LoadPaths([]string{"testdata/schema/renamed.job"})
	if err != nil {
		t.Fatal(err)
	}
	j := jobs[0]
	if j.Name != "api-1" || j.RunOnHost != "h1" || j.MemoryMB != 256 || len(j.Envs) != 1 || j.Envs[0].Key != "port" {
		t.Errorf("%+v", j)
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    SchemaConfig
		want []string
	}{
		{"syntax", SchemaConfig{Proto: "broken.proto", Message: "broken.JobFile"}, []string{"broken.proto:8:3: syntax error"}},
		{"no message", SchemaConfig{Proto: "deploy.proto", Message: "prod.deploy.Jobs"}, []string{`no message "prod.deploy.Jobs"`, "prod.deploy.JobFile"}},
		{"types", SchemaConfig{Proto: "badtypes.proto", Message: "badtypes.JobFile"}, []string{
			"badtypes.proto:7:3: field badtypes.Job.name: clocal reads it as the job's name and needs a singular string",
			"badtypes.proto:9:3: field badtypes.Job.cpus: clocal reads it as the job's cpus and needs a number"}},
		{"missing name", SchemaConfig{Proto: "renamed.proto", Message: "legacy.Deployment"}, []string{`message legacy.Task has no field "name"`}},
		{"bad rename", SchemaConfig{Proto: "deploy.proto", Message: "prod.deploy.JobFile", Fields: map[string]string{"hostname": "x"}}, []string{`fields: "hostname" is not a field clocal reads`}},
		{"missing file", SchemaConfig{Proto: "nope.proto", Message: "x.Y"}, []string{"nope.proto: no such file"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Dir = "testdata/schema"
			_, err := CompileSchema(context.Background(), tt.c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in\n%v", w, err)
				}
			}
		})
	}
}

// TestBuiltinSchemaSameAsGenerated: the built-in schema is jobpb's, read by name.
func TestBuiltinSchemaFields(t *testing.T) {
	data, err := os.ReadFile("testdata/schema/renamed.job")
	if err != nil {
		t.Fatal(err)
	}
	_, errs := ParseFile("renamed.job", data)
	if len(errs) == 0 || !strings.Contains(errs.Error(), `unknown field "task" in file`) || !strings.Contains(errs.Error(), "schema: {proto:") {
		t.Errorf("want an unknown field error with the schema hint, got %v", errs)
	}
}

// TestRequiredFields: a proto2 schema's required fields are checked.
func TestRequiredFields(t *testing.T) {
	s := compile(t, SchemaConfig{Proto: "renamed.proto", Message: "legacy.Deployment", Fields: map[string]string{"name": "id"}})
	_, errs := s.ParseFile("r.job", []byte("task < image: \"x\" >\n"))
	if len(errs) == 0 || !strings.Contains(errs.Error(), "required field legacy.Task.id not set") {
		t.Errorf("errors %v", errs)
	}
}

// TestMapEnvs: envs as a map<string, string> (the same text as repeated {key, value}) are
// read in the order written, the last value of a key winning; the file's job field may have
// another name when it is the only repeated message.
func TestMapEnvs(t *testing.T) {
	s := compile(t, SchemaConfig{Proto: "mapenv.proto", Message: "mapenv.Jobs"})
	src := "jobs {\n  name: \"a-1\"\n  image: \"a:1\"\n  envs { key: \"PORT\" value: \"8080\" }\n  envs { key: \"b_addr\" value: \"h2:9000\" }\n  envs { key: \"PORT\" value: \"8081\" }\n}\n"
	jobs, errs := s.ParseFile("m.job", []byte(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, e := range jobs[0].Envs {
		got = append(got, fmt.Sprintf("%s=%s@%d", e.Key, e.Value, e.Pos.Line))
	}
	if want := "PORT=8081@4 b_addr=h2:9000@5 PORT=8081@6"; strings.Join(got, " ") != want {
		t.Errorf("envs %v, want %s", got, want)
	}
}
