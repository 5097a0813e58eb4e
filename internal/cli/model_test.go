package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func prodJob(name, image, host string, port int, env ...string) string {
	s := fmt.Sprintf("job {\n  name: %q\n  image: %q\n  run_on_host: %q\n  envs { key: \"PORT\" value: \"%d\" }\n", name, image, host, port)
	for i := 0; i+1 < len(env); i += 2 {
		s += fmt.Sprintf("  envs { key: %q value: %q }\n", env[i], env[i+1])
	}
	return s + "}\n"
}

// TestNamespaceClashIsBadInput: two jobs listening on one port in one namespace stop
// validate, config, up and doctor with exit 2, naming both jobs, before Docker is touched.
func TestNamespaceClashIsBadInput(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":             "name: clash\njobs_root: prod\n",
		"prod/h1.jobs":            prodJob("a-1", "acme/a:1", "h1", 8080),
		"prod/h2.jobs":            prodJob("c-1", "acme/c:1", "h2", 8080),
		"services/a/service.yaml": "share_localhost: [c]\n",
	})
	ctx := context.Background()
	for _, args := range [][]string{{"validate"}, {"config", "a"}, {"up", "a"}, {"doctor", "a"}, {"graph"}} {
		r := runCLI(t, ctx, append([]string{"-w", dir, "-p", testProject(t)}, args...)...)
		if r.Code != 2 || !strings.Contains(r.Err, "prod/h2.jobs:1:1: port 8080: job a-1 (prod/h1.jobs:1:1) and job c-1 (prod/h2.jobs:1:1) both listen on it") {
			t.Errorf("%v: exit %d\n%s", args, r.Code, r.Err)
		}
	}
}

// TestModelFindingsOnce: an ambiguous address and split replicas are said by validate and
// graph, aggregated, and by no other command; config says the split in one line.
func TestModelFindingsOnce(t *testing.T) {
	var h1, h9 strings.Builder
	h1.WriteString(prodJob("a-1", "acme/a:1", "h1", 8080) + prodJob("b-1", "acme/b:1", "h1", 9000))
	h1.WriteString(prodJob("r-1", "acme/r:1", "h1", 7000))
	for i := 0; i < 30; i++ { // thirty jobs writing the same ambiguous bare host
		h9.WriteString(prodJob(fmt.Sprintf("z%d-1", i), fmt.Sprintf("acme/z%d:1", i), "h9", 6000+i, "peer", "h1"))
	}
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":  "name: notes\njobs_root: prod\n",
		"prod/h1.jobs": h1.String(),
		"prod/h2.jobs": prodJob("r-2", "acme/r:1", "h2", 7001),
		"prod/h9.jobs": h9.String(),
	})
	ctx := context.Background()
	v := mustRun(t, ctx, "-w", dir, "validate")
	for _, want := range []string{
		"note: 1 addresses that name no single job: no dependency inferred (declare it with depends_on: if needed):\n  h1: a bare host name: h1 runs a-1, b-1, r-1 (prod/h9.jobs:6:3 job z0-1 env peer, and 29 more)\n",
		"note: 1 replicas split into several local services (each reachable as in production):\n  r: replicas differ (port 7000 on h1; port 7001 on h2): split into r-1, r-2",
	} {
		if !strings.Contains(v.Err, want) {
			t.Errorf("validate lacks %q:\n%s", want, v.Err)
		}
	}
	g := mustRun(t, ctx, "-w", dir, "graph")
	if strings.Count(g.Err, "h1: a bare host name") != 1 || !strings.Contains(g.Err, "split into r-1, r-2") {
		t.Errorf("graph:\n%s", g.Err)
	}
	c := mustRun(t, ctx, "-w", dir, "config", "z0")
	if strings.Contains(c.Err, "bare host") || !strings.Contains(c.Err, "note: replicas of 1 app(s) differ") || strings.Count(c.Err, "\n") != 1 {
		t.Errorf("config stderr:\n%s", c.Err)
	}
	p := mustRun(t, ctx, "-w", dir, "profiles")
	if p.Err != "" {
		t.Errorf("profiles stderr:\n%s", p.Err)
	}
}

// TestInspectProductionFields: fields of production's schema that clocal does not map are
// kept and shown by inspect (secret-looking ones redacted); validate PATH reads with the
// workspace's schema.
func TestInspectProductionFields(t *testing.T) {
	testutil.RequireDocker(t)
	proto := "syntax = \"proto3\";\npackage p;\nmessage F { repeated J job = 1; }\nmessage J {\n  string name = 1;\n  string image = 2;\n  string run_on_host = 3;\n  repeated E envs = 4;\n  map<string, string> labels = 9;\n  uint32 replicas = 10;\n  string api_token = 11;\n  Limits limits = 12;\n}\nmessage Limits { int64 open_files = 1; }\nmessage E { string key = 1; string value = 2; bool pinned = 3; }\nmessage G { string cluster = 2; repeated J job = 1; }\n"
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":    "name: schema\njobs_root: prod\nschema: {proto: schema/p.proto, message: p.G}\n",
		"schema/p.proto": proto,
		"prod/h.jobs":    "cluster: \"eu-1\"\njob { name: \"x-1\" image: \"acme/x:1\" run_on_host: \"h\" replicas: 3 labels { key: \"team\" value: \"pay\" } api_token: \"s3cr3t\" limits { open_files: 1024 } envs { key: \"MODE\" value: \"a\" pinned: true } }\n",
	})
	ctx := context.Background()
	r := mustRun(t, ctx, "-w", dir, "-p", testProject(t), "inspect", "x")
	var out struct {
		Image    string                     `json:"production_image"`
		Prebuilt bool                       `json:"prebuilt"`
		Fields   map[string]json.RawMessage `json:"production_fields"`
		File     map[string]json.RawMessage `json:"production_file_fields"`
	}
	if err := json.Unmarshal([]byte(r.Out), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.Out)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, out.Fields["x-1"])
	if got := compact.String(); got != `{"api_token":"********","envs":{"MODE":{"pinned":true}},"labels":{"team":"pay"},"limits":{"open_files":"1024"},"replicas":3}` || out.Image != "acme/x:1" || !out.Prebuilt {
		t.Errorf("inspect: %s", r.Out)
	}
	compact.Reset()
	_ = json.Compact(&compact, out.File["prod/h.jobs"])
	if got := compact.String(); got != `{"cluster":"eu-1"}` {
		t.Errorf("inspect: file fields %s\n%s", got, r.Out)
	}
	if strings.Contains(r.Out, "s3cr3t") {
		t.Error("inspect prints a secret")
	}
	// validate PATH: the workspace's schema knows replicas
	v := runCLI(t, ctx, "-w", dir, "validate", dir+"/prod/h.jobs")
	if v.Code != 0 {
		t.Errorf("validate PATH with the workspace schema: exit %d\n%s", v.Code, v.Err)
	}
}
