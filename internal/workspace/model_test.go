package workspace

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// pj is a production job: name, image, host, listening port (0: none) and env key/values.
func pj(name, image, host string, port int, env ...string) string {
	s := fmt.Sprintf("job {\n  name: %q\n  image: %q\n  run_on_host: %q\n", name, image, host)
	if port > 0 {
		s += fmt.Sprintf("  envs { key: \"PORT\" value: \"%d\" }\n", port)
	}
	for i := 0; i+1 < len(env); i += 2 {
		s += fmt.Sprintf("  envs { key: %q value: %q }\n", env[i], env[i+1])
	}
	return s + "}\n"
}

// prod is a workspace whose jobs live in prod/ (jobs_root), one file per host.
func prod(files ...string) map[string]string {
	m := map[string]string{"clocal.yaml": "name: t\njobs_root: prod\n"}
	for i := 0; i+1 < len(files); i += 2 {
		m[files[i]] += files[i+1]
	}
	return m
}

func edgeList(ws *Workspace) []string {
	var out []string
	for _, e := range ws.Edges {
		out = append(out, fmt.Sprintf("%s->%s %s", e.From, e.To, e.Kind))
	}
	return out
}

// loadEdges loads a workspace and checks its edges.
func loadEdges(t *testing.T, files map[string]string, want []string) *Workspace {
	t.Helper()
	ws, err := Load(writeWS(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if got := edgeList(ws); !reflect.DeepEqual(got, want) {
		t.Errorf("edges %q, want %q", got, want)
	}
	return ws
}

func groupList(ws *Workspace) []string {
	var out []string
	for _, g := range ws.Groups {
		if len(g.Members) > 1 {
			out = append(out, g.Name+"="+strings.Join(g.Members, ","))
		}
	}
	return out
}

func findingList(ws *Workspace) []string {
	var out []string
	for _, f := range ws.Findings {
		out = append(out, fmt.Sprintf("%s %s x%d", f.Kind, f.Subject, f.Count))
	}
	return out
}

// TestAddressRules: one table row per rule of the address model (the package doc of
// model.go): what each address reaches, which services share a namespace, what is said
// once as a finding.
func TestAddressRules(t *testing.T) {
	// h1 runs a (8080) and b (9000); h2 runs c (8080)
	h1 := pj("a-1", "reg/a:1", "h1", 8080) + pj("b-1", "reg/b:1", "h1", 9000)
	h2 := pj("c-1", "reg/c:1", "h2", 8080)
	caller := func(env ...string) string { return pj("z-1", "reg/z:1", "h9", 7000, env...) }
	for _, tc := range []struct {
		name     string
		files    map[string]string
		edges    []string
		groups   []string
		findings []string
	}{
		{"HOST:PORT reaches the job listening on PORT there, only it",
			prod("prod/h1.jobs", h1, "prod/h2.jobs", h2, "prod/h9.jobs", caller("b_addr", "h1:9000")),
			[]string{"z->b inferred"}, nil, nil},
		{"JOB:PORT reaches that job",
			prod("prod/h1.jobs", h1, "prod/h2.jobs", h2, "prod/h9.jobs", caller("b_addr", "b-1:9000")),
			[]string{"z->b inferred"}, nil, nil},
		{"a URL with path, user and query",
			prod("prod/h1.jobs", h1, "prod/h2.jobs", h2, "prod/h9.jobs", caller("a_url", "http://u:p@h1:8080/api?x=1", "c_url", "grpc://h2:8080")),
			[]string{"z->a inferred", "z->c inferred"}, nil, nil},
		{"the same port on two hosts is two services",
			prod("prod/h1.jobs", h1, "prod/h2.jobs", h2, "prod/h9.jobs", caller("x", "h1:8080,h2:8080")),
			[]string{"z->a inferred", "z->c inferred"}, nil, nil},
		{"host and port keys pair up; the port key is no listening port",
			prod("prod/h1.jobs", h1, "prod/h9.jobs", caller("B_HOST", "h1", "B_PORT", "9000")),
			[]string{"z->b inferred"}, nil, nil},
		{"a bare host with one app on it",
			prod("prod/h2.jobs", h2, "prod/h9.jobs", caller("c", "h2")),
			[]string{"z->c inferred"}, nil, nil},
		{"a bare host with several apps: ambiguous, said once for every job writing it",
			prod("prod/h1.jobs", h1, "prod/h9.jobs", caller("x", "h1")+pj("y-1", "reg/y:1", "h8", 7000, "x", "h1")),
			nil, nil, []string{"ambiguous h1 x2"}},
		{"http://HOST without a port is HOST:80, https://HOST HOST:443 (QA-8)",
			prod("prod/h1.jobs", h1+pj("w-1", "reg/w:1", "h1", 80), "prod/h2.jobs", h2, "prod/h9.jobs", caller("w", "http://h1/x", "c", "https://h2/", "c2", "https://h2")),
			[]string{"z->w inferred"}, nil, []string{"ambiguous https://h2 x2"}},
		{"https://HOST reaches the job listening on 443 there, not the host's other apps",
			prod("prod/h2.jobs", h2+pj("d-1", "reg/d:1", "h2", 443), "prod/h9.jobs", caller("d", "https://h2")),
			[]string{"z->d inferred"}, nil, nil},
		{"other schemes reach the port written (QA-8)",
			prod("prod/h1.jobs", h1, "prod/h2.jobs", h2, "prod/h9.jobs", caller("r", "redis://h2:8080/0", "g", "grpc://h1:9000")),
			[]string{"z->b inferred", "z->c inferred"}, nil, nil},
		{"a port nothing listens on: only a job with no known port may",
			prod("prod/h1.jobs", h1+pj("u-1", "reg/u:1", "h1", 0), "prod/h2.jobs", h2, "prod/h9.jobs", caller("u", "http://h1/", "c", "h2:1234")),
			[]string{"z->u inferred"}, nil, []string{"ambiguous h2:1234 x1"}},
		{"*_HOST=localhost with *_PORT is localhost:PORT (QA-19)",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "B_HOST", "localhost", "B_PORT", "9000", "a_host", "127.0.0.1", "a_port", "8080")),
			[]string{"s->a localhost", "s->b localhost"}, []string{"host-h1=a,b,s"}, nil},
		{"*_HOSTNAME=<own host> with *_PORT is HOST:PORT (QA-19)",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "B_HOSTNAME", "h1", "B_PORT", "9000")),
			[]string{"s->b inferred"}, nil, nil},
		{"a port nothing listens on at a host with several apps",
			prod("prod/h1.jobs", h1, "prod/h9.jobs", caller("x", "h1:1234")),
			nil, nil, []string{"ambiguous h1:1234 x1"}},
		{"a job naming its own host is nothing",
			prod("prod/h1.jobs", pj("a-1", "reg/a:1", "h1", 8080, "HOSTNAME", "h1")+pj("b-1", "reg/b:1", "h1", 9000)),
			nil, nil, nil},
		{"names outside production and substrings are nothing",
			prod("prod/h1.jobs", h1, "prod/h9.jobs", caller("x", "h10:8080,smtp.acme.io:25,b-10:9000")),
			nil, nil, nil},
		{"localhost:PORT reaches the co-hosted job listening on PORT: one namespace",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "up", "localhost:9000")),
			[]string{"s->b localhost"}, []string{"host-h1=b,s"}, nil},
		{"127.0.0.1 and [::1] are localhost too",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "a", "127.0.0.1:8080", "b", "[::1]:9000")),
			[]string{"s->a localhost", "s->b localhost"}, []string{"host-h1=a,b,s"}, nil},
		{"localhost on the job's own port is itself",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "self", "http://localhost:7000/")),
			nil, nil, nil},
		{"localhost where nothing listens",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "x", "localhost:5000")),
			nil, nil, []string{"unresolved localhost:5000 on h1 x1"}},
		{"sharing a host is no reason to share a namespace",
			prod("prod/h1.jobs", h1+pj("s-1", "reg/s:1", "h1", 7000, "b", "h1:9000")),
			[]string{"s->b inferred"}, nil, nil},
		{"share_localhost: in a service file",
			with(prod("prod/h1.jobs", h1), "services/a/service.yaml", "share_localhost: [b]\n"),
			nil, []string{"host-h1=a,b"}, nil},
		{"a cycle is a finding, not a warning",
			prod("prod/h1.jobs", pj("a-1", "reg/a:1", "h1", 8080, "b", "h2:9000"), "prod/h2.jobs", pj("b-1", "reg/b:1", "h2", 9000, "a", "h1:8080")),
			[]string{"a->b inferred", "b->a inferred"}, nil, []string{"cycle b -> a -> b x1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := loadEdges(t, tc.files, tc.edges)
			if got := groupList(ws); !reflect.DeepEqual(got, tc.groups) {
				t.Errorf("groups %q, want %q", got, tc.groups)
			}
			if got := findingList(ws); !reflect.DeepEqual(got, tc.findings) {
				t.Errorf("findings %q, want %q", got, tc.findings)
			}
			if len(ws.Warnings) > 0 {
				t.Errorf("warnings %q", ws.Warnings)
			}
		})
	}
}

// TestPairedPortIsNoListeningPort: db_port with db_host naming another host is where the job
// connects; with its own host (and no other port) where it listens.
func TestPairedPortIsNoListeningPort(t *testing.T) {
	ws, err := Load(writeWS(t, prod("prod/h.jobs",
		pj("db-1", "reg/db:1", "h2", 5432)+
			pj("x-1", "reg/x:1", "h1", 8080, "db_host", "h2", "db_port", "5432")+
			pj("y-1", "reg/y:1", "h3", 0, "http_host", "h3", "http_port", "9000")+
			pj("w-1", "reg/w:1", "h2", 7000, "DB_HOST", "localhost", "DB_PORT", "5432")+
			pj("m-1", "reg/m:1", "h2", 7001, "SMTP_HOST", "smtp.example.com", "SMTP_PORT", "587")+
			pj("l-1", "reg/l:1", "h4", 0, "LISTEN_HOST", "0.0.0.0", "LISTEN_PORT", "9001"))))
	if err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string][]int{"x": {8080}, "y": {9000}, "db": {5432}, "w": {7000}, "m": {7001}, "l": {9001}} {
		if got := ws.Services[svc].Ports; !reflect.DeepEqual(got, want) {
			t.Errorf("%s listens on %v, want %v", svc, got, want)
		}
	}
}

// TestNamespaceClash: two members of one namespace listening on one port is an input error
// naming both jobs with FILE:LINE:COL, and what joined them.
func TestNamespaceClash(t *testing.T) {
	files := with(prod("prod/h1.jobs", pj("a-1", "reg/a:1", "h1", 8080), "prod/h2.jobs", pj("c-1", "reg/c:1", "h2", 8080)),
		"services/a/service.yaml", "\nshare_localhost: [c]\n")
	_, err := Load(writeWS(t, files))
	if err == nil {
		t.Fatal("no error")
	}
	want := "prod/h2.jobs:1:1: port 8080: job a-1 (prod/h1.jobs:1:1) and job c-1 (prod/h2.jobs:1:1) both listen on it, and would share one network namespace (services/a/service.yaml:2 share_localhost: c)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error:\n%v\nwant it to start with:\n%s", err, want)
	}
	// production's own clash on one host (two jobs on 8080) joined by localhost
	files = prod("prod/h1.jobs", pj("a-1", "reg/a:1", "h1", 8080, "b", "localhost:9000")+pj("b-1", "reg/b:1", "h1", 9000)+
		pj("d-1", "reg/d:1", "h1", 8080, "b", "localhost:9000")+pj("e-1", "reg/e:1", "h1", 7000, "a", "localhost:9000"))
	_, err = Load(writeWS(t, files))
	if err == nil || !strings.Contains(err.Error(), "port 8080: job a-1") && !strings.Contains(err.Error(), "port 8080: job d-1") {
		t.Errorf("want a clash on 8080, got %v", err)
	}
}

// TestReplicas: identical replicas are one instance; replicas on another port or image are
// split (named by their first job, reachable as in production, one notice); other
// differences are listed; replicas reached over localhost by different apps are split so
// neither namespace holds the other's jobs.
func TestReplicas(t *testing.T) {
	ws, err := Load(writeWS(t, prod(
		"prod/h1.jobs", pj("r-1", "reg/r:1", "h1", 8080, "LOG", "info")+pj("m-1", "reg/m:1", "h1", 9000)+pj("s-1", "reg/s:1", "h1", 7000, "up", "localhost:9000"),
		"prod/h2.jobs", pj("r-2", "reg/r:1", "h2", 8080, "LOG", "debug")+pj("m-2", "reg/m:1", "h2", 9000)+pj("t-1", "reg/t:1", "h2", 7000, "up", "localhost:9000"),
		"prod/h3.jobs", pj("r-3", "reg/r:1", "h3", 8081)+pj("i-1", "reg/i:1", "h3", 6000)+pj("z-1", "reg/z:1", "h3", 5000, "r", "h3:8081", "r2", "r-2:8080"),
		"prod/h4.jobs", pj("i-2", "reg/i:2", "h4", 6000))))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ws.ServiceNames(), []string{"i-1", "i-2", "m-1", "m-2", "r-1", "r-3", "s", "t", "z"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	if got := ws.Services["r-1"].JobNames(); !reflect.DeepEqual(got, []string{"r-1", "r-2"}) {
		t.Errorf("r-1 runs %v", got)
	}
	if got := ws.Lookup("r"); !reflect.DeepEqual(got, []string{"r-1", "r-3"}) {
		t.Errorf("the app name names every variant: %v", got)
	}
	if got := edgeList(ws); !reflect.DeepEqual(got, []string{"s->m-1 localhost", "t->m-2 localhost", "z->r-1 inferred", "z->r-3 inferred"}) {
		t.Errorf("edges %v", got)
	}
	if got := groupList(ws); !reflect.DeepEqual(got, []string{"host-h1=m-1,s", "host-h2=m-2,t"}) {
		t.Errorf("groups %v", got)
	}
	var got []string
	for _, f := range ws.Findings {
		got = append(got, string(f.Kind)+" "+f.Subject+": "+f.Detail)
	}
	sort.Strings(got)
	want := []string{
		"replica-diff r-1: r-2 (prod/h2.jobs:1:1) differs from r-1, which runs locally: env LOG",
		"split i: replicas differ (image reg/i:1 on h3; image reg/i:2 on h4): split into i-1, i-2",
		"split m: replicas differ (port 9000 sharing localhost with s on h1; port 9000 sharing localhost with t on h2): split into m-1, m-2",
		"split r: replicas differ (port 8080 on h1,h2; port 8081 on h3): split into r-1, r-3",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := SplitNotice(ws.Findings); !strings.HasPrefix(n, "note: replicas of 3 app(s) differ") {
		t.Errorf("notice %q", n)
	}
}

// TestJobsRoot: production's job folder as it is. A job belongs to the folder named like
// its image repository, unless a folder's match: picks it; a file naming several apps is
// split by image; jobs no folder claims run their production image (Prebuilt).
func TestJobsRoot(t *testing.T) {
	files := prod(
		"prod/hosts/h1.jobs", pj("billing-1", "registry.acme.io:5000/pay/billing:2024.1", "h1", 8080)+
			pj("redis-1", "redis:7@sha256:abcd", "h1", 6379)+pj("ledger-1", "acme/ledger-svc:3", "h1", 9000),
		"prod/clusters/eu.jobs", pj("billing-2", "registry.acme.io:5000/pay/billing:2024.1", "h2", 8080)+
			pj("web-7", "acme/frontend:9", "h2", 80),
		"services/billing/service.yaml", "",
		"services/billing/Dockerfile", "FROM scratch\n",
		"services/ledger/service.yaml", "match: {image: \"*/ledger-svc\"}\n",
		"services/www/service.yaml", "match: {job: \"web-*\"}\n",
		// a per-service file holding two apps: split by image
		"services/notify/notify.job", pj("notify-1", "acme/notify:1", "h3", 7000)+pj("mailer-1", "acme/mailer:1", "h3", 7001),
	)
	ws, err := Load(writeWS(t, files))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		folder, image string
		jobs          []string
		prebuilt      bool
		filePath      string
	}{
		"billing": {"billing", "registry.acme.io:5000/pay/billing:2024.1", []string{"billing-2", "billing-1"}, false, "services/billing/service.yaml"}, // files in path order
		"ledger":  {"ledger", "acme/ledger-svc:3", []string{"ledger-1"}, true, "services/ledger/service.yaml"},
		"www":     {"www", "acme/frontend:9", []string{"web-7"}, true, "services/www/service.yaml"},
		"redis":   {"redis", "redis:7@sha256:abcd", []string{"redis-1"}, true, ""},
		"notify":  {"notify", "acme/notify:1", []string{"notify-1"}, true, "services/notify/service.yaml"},
		"mailer":  {"mailer", "acme/mailer:1", []string{"mailer-1"}, true, ""},
	} {
		s := ws.Services[name]
		if s == nil {
			t.Errorf("no service %s (have %v)", name, ws.ServiceNames())
			continue
		}
		if s.Folder != want.folder || s.Image != want.image || !reflect.DeepEqual(s.JobNames(), want.jobs) || s.Prebuilt != want.prebuilt || s.FilePath != want.filePath {
			t.Errorf("%s: folder %q image %q jobs %v prebuilt %v file %q; want %+v", name, s.Folder, s.Image, s.JobNames(), s.Prebuilt, s.FilePath, want)
		}
	}
	if len(ws.Services) != 6 {
		t.Errorf("services %v", ws.ServiceNames())
	}
	if got := ws.Services["billing"].JobFiles; !reflect.DeepEqual(got, []string{"prod/clusters/eu.jobs", "prod/hosts/h1.jobs"}) {
		t.Errorf("billing job files %v", got)
	}
}

func TestJobsRootErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"two folders match one job", with(prod("prod/h.jobs", pj("x-1", "acme/x:1", "h", 80)),
			"services/p/service.yaml", "match: {image: x}\n", "services/q/service.yaml", "match: {job: \"x-*\"}\n"),
			`prod/h.jobs:1:1: job "x-1" is matched by both services/p/service.yaml and services/q/service.yaml`},
		{"a folder named like the image says otherwise", with(prod("prod/h.jobs", pj("x-1", "acme/x:1", "h", 80)),
			"services/x/service.yaml", "match: {image: y}\n", "services/y/y.job", pj("y-1", "acme/y:1", "h2", 80)),
			`prod/h.jobs:1:1: job "x-1" runs image acme/x:1, whose name is the service folder services/x, but its match: does not pick the job`},
		{"a folder no job is for", with(prod("prod/h.jobs", pj("x-1", "acme/x:1", "h", 80)), "services/z/service.yaml", ""),
			`services/z: no job: no *.job file in the folder and no job under jobs_root prod runs an image named "z" (set match: in service.yaml)`},
		{"jobs_root missing", map[string]string{"clocal.yaml": "name: t\njobs_root: nope\n"},
			`clocal.yaml:2: jobs_root: nope is not a folder`},
		{"a bad schema", with(prod("prod/h.jobs", pj("x-1", "acme/x:1", "h", 80)), "clocal.yaml", "name: t\njobs_root: prod\nschema: {proto: s.proto, message: a.B}\n", "s.proto", "syntax = \"proto3\";\npackage a;\nmessage B { string name = 1 }\n"),
			"clocal.yaml:3: schema: schema s.proto:\ns.proto:3:29: syntax error: expecting ';'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeWS(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// TestSchemaInWorkspace: clocal.yaml names production's .proto; jobs keep the fields clocal
// does not map; an unknown field is FILE:LINE:COL.
func TestSchemaInWorkspace(t *testing.T) {
	// fields clocal does not map: in the job (a map, a nested message, a well-known type),
	// in an env element, and in the file outside its jobs (QA-2)
	proto := "syntax = \"proto3\";\npackage p;\nimport \"google/protobuf/duration.proto\";\n" +
		"message F { string cluster = 2; Owner owner = 3; repeated J job = 1; }\nmessage Owner { string team = 1; repeated string oncall = 2; }\n" +
		"message J {\n  string name = 1;\n  string image = 2;\n  string run_on_host = 3;\n  repeated E envs = 4;\n  map<string, string> labels = 9;\n  uint32 replicas = 10;\n" +
		"  message Rollout { uint32 max_unavailable = 1; google.protobuf.Duration pause = 2; }\n  Rollout rollout = 11;\n}\n" +
		"message E { string key = 1; string value = 2; bool secret = 3; }\n"
	files := with(prod("prod/h.jobs", "cluster: \"eu-1\"\nowner { team: \"pay\" oncall: \"ann\" }\n"+
		"job { name: \"x-1\" image: \"acme/x:1\" run_on_host: \"h\" replicas: 3 labels { key: \"team\" value: \"a\" }\n"+
		"  envs { key: \"A\" value: \"1\" } envs { key: \"TOKEN\" value: \"s3cr3t\" secret: true }\n"+
		"  rollout { max_unavailable: 1 pause { seconds: 30 } } }\n"),
		"clocal.yaml", "name: t\njobs_root: prod\nschema: {proto: schema/p.proto, message: p.F}\n", "schema/p.proto", proto)
	ws, err := Load(writeWS(t, files))
	if err != nil {
		t.Fatal(err)
	}
	j := ws.Services["x"].Jobs[0]
	if got := string(j.Extra); got != `{"envs":{"TOKEN":{"secret":true}},"labels":{"team":"a"},"replicas":3,"rollout":{"max_unavailable":1,"pause":"30s"}}` {
		t.Errorf("extra %s", got)
	}
	if got := string(j.FileExtra); got != `{"cluster":"eu-1","owner":{"team":"pay","oncall":["ann"]}}` {
		t.Errorf("file extra %s", got)
	}
	files["prod/h.jobs"] = "job { name: \"x-1\" image: \"acme/x:1\" replica: 3 }\n"
	_, err = Load(writeWS(t, files))
	if err == nil || !strings.Contains(err.Error(), `prod/h.jobs:1:37: unknown field "replica" in job (did you mean "replicas"?)`) {
		t.Errorf("error %v", err)
	}
}

// TestJobsRootOutsideAndFileNames: jobs_root may be production's checkout next to the
// workspace, with its own file names (jobs_files).
func TestJobsRootOutsideAndFileNames(t *testing.T) {
	parent := t.TempDir()
	ws := with(map[string]string{}, "ws/clocal.yaml", "name: t\njobs_root: ../deploy/jobs\njobs_files: [\"*.conf\"]\n",
		"deploy/jobs/node1.conf", pj("a-1", "acme/a:1", "node1", 80),
		"deploy/jobs/README.md", "# not a job file\n",
		"deploy/jobs/old/node2.job", pj("b-1", "acme/b:1", "node2", 80))
	testutil.WriteFiles(t, parent, ws)
	w, err := Load(parent + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.ServiceNames(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("services %v (want only the *.conf job)", got)
	}
	if got := w.Services["a"].JobFiles; !reflect.DeepEqual(got, []string{"../deploy/jobs/node1.conf"}) {
		t.Errorf("job files %v", got)
	}
}

// TestListenAddressesAndAll: a listening-port key may hold a listen address; "all" is every
// service when nothing is named so.
func TestListenAddressesAndAll(t *testing.T) {
	ws, err := Load(writeWS(t, with(prod("prod/h.jobs",
		pj("a-1", "acme/a:1", "h1", 0, "listen_port", ":8080")+pj("b-1", "acme/b:1", "h2", 0, "http_port", "0.0.0.0:9000", "a", "h1:8080")),
		"clocal.yaml", "name: t\njobs_root: prod\nport_env: [\"*_port\"]\n")))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := ws.Services["a"].Ports, ws.Services["b"].Ports; !reflect.DeepEqual(a, []int{8080}) || !reflect.DeepEqual(b, []int{9000}) {
		t.Errorf("ports a %v b %v", a, b)
	}
	if got := edgeList(ws); !reflect.DeepEqual(got, []string{"b->a inferred"}) {
		t.Errorf("edges %v", got)
	}
	sel, err := ws.Resolve([]string{"all"})
	if err != nil || !reflect.DeepEqual(sel.Services, []string{"a", "b"}) {
		t.Errorf("all: %v, %v", sel, err)
	}
}

// TestPerHostAgent (QA-7): a per-host agent on every host, on one port, reached over
// localhost by an app replicated on two hosts and by other apps on some hosts. Each host's
// loopback is its own: every local instance reaches the agent of its own host, the app is
// split where its replicas' hosts differ, alike hosts share one instance, and nothing clashes.
func TestPerHostAgent(t *testing.T) {
	agent := func(h string) string { return pj("agent-"+h, "reg/statsd-agent:1", h, 8125) }
	use := func(name, image, host string, port int) string {
		return pj(name, image, host, port, "STATSD_ADDR", "localhost:8125")
	}
	ws, err := Load(writeWS(t, prod(
		"prod/h1.jobs", agent("h1")+use("web-1", "reg/web:1", "h1", 8080)+use("api-1", "reg/api:1", "h1", 9000),
		"prod/h2.jobs", agent("h2")+use("web-2", "reg/web:1", "h2", 8080),
		"prod/h3.jobs", agent("h3")+use("web-3", "reg/web:1", "h3", 8080),
		"prod/h4.jobs", agent("h4")+use("batch-1", "reg/batch:1", "h4", 9000),
		"prod/h5.jobs", agent("h5"))))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ws.ServiceNames(), []string{"agent-h1", "agent-h2", "agent-h4", "agent-h5", "api", "batch", "web-1", "web-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for svc, jobs := range map[string][]string{"web-2": {"web-2", "web-3"}, "agent-h2": {"agent-h2", "agent-h3"}, "web-1": {"web-1"}} {
		if got := ws.Services[svc].JobNames(); !reflect.DeepEqual(got, jobs) {
			t.Errorf("%s runs %v, want %v", svc, got, jobs)
		}
	}
	if got, want := groupList(ws), []string{"host-h1=agent-h1,api,web-1", "host-h2=agent-h2,web-2", "host-h4=agent-h4,batch"}; !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
	if got, want := edgeList(ws), []string{"api->agent-h1 localhost", "batch->agent-h4 localhost", "web-1->agent-h1 localhost", "web-2->agent-h2 localhost"}; !reflect.DeepEqual(got, want) {
		t.Errorf("edges %v, want %v", got, want)
	}
	sel, err := ws.Resolve([]string{"web"})
	if err != nil || !reflect.DeepEqual(sel.Services, []string{"agent-h1", "agent-h2", "web-1", "web-2"}) {
		t.Errorf("web: %v, %v", sel.Services, err)
	}
	// share_localhost: joins the jobs of one host, never the agents of two
	files := prod("prod/h1.jobs", agent("h1")+pj("web-1", "reg/web:1", "h1", 8080), "prod/h2.jobs", agent("h2")+pj("web-2", "reg/web:1", "h2", 8080))
	files["services/web/service.yaml"] = "share_localhost: [statsd-agent]\n"
	ws, err = Load(writeWS(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := groupList(ws), []string{"host-h1=statsd-agent,web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("share_localhost groups %v, want %v", got, want)
	}
}

// TestHostSpellings (QA-18): a host written short in run_on_host and full in a value (or
// the other way round) is one host; two hosts app-01.<domain> keep their full names apart.
func TestHostSpellings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		edges   []string
		aliases []string // of the first host
	}{
		{"run_on_host full, value short",
			prod("prod/a.jobs", pj("a-1", "reg/a:1", "app-01.dc1.corp.com", 8080), "prod/z.jobs", pj("z-1", "reg/z:1", "h9", 7000, "a", "app-01:8080")),
			[]string{"z->a inferred"}, []string{"app-01", "app-01.dc1.corp.com"}},
		{"run_on_host short, value full (URL, host key)",
			prod("prod/a.jobs", pj("a-1", "reg/a:1", "app-01", 8080)+pj("b-1", "reg/b:1", "app-01", 9000),
				"prod/z.jobs", pj("z-1", "reg/z:1", "h9", 7000, "a", "http://APP-01.dc1.corp.com.:8080/x", "B_HOST", "app-01.dc1.corp.com", "B_PORT", "9000")),
			[]string{"z->a inferred", "z->b inferred"}, []string{"app-01", "app-01.dc1.corp.com"}},
		{"two domains: full names apart, the short one names neither",
			prod("prod/a.jobs", pj("a-1", "reg/a:1", "app-01.dc1.corp.com", 8080)+pj("c-1", "reg/c:1", "app-01.dc2.corp.com", 8080),
				"prod/z.jobs", pj("z-1", "reg/z:1", "h9", 7000, "c", "app-01.dc2.corp.com:8080", "x", "app-01:8080")),
			[]string{"z->c inferred"}, []string{"app-01.dc1.corp.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := loadEdges(t, tc.files, tc.edges)
			if got := ws.HostAliases(ws.HostNames()[0]); !reflect.DeepEqual(got, tc.aliases) {
				t.Errorf("aliases of %s: %q, want %q", ws.HostNames()[0], got, tc.aliases)
			}
			if got := ws.Services["a"].Ports; !reflect.DeepEqual(got, []int{8080}) {
				t.Errorf("a listens on %v", got)
			}
		})
	}
}

// TestMatchImage (QA-1): match: image globs over the image repository, anchored at its end.
func TestMatchImage(t *testing.T) {
	for _, tc := range []struct {
		glob, repo string
		want       bool
	}{
		{"billing", "registry.corp/team/billing", true},
		{"bill*", "registry.corp/team/billing", true},
		{"*/billing", "registry.corp/team/billing", true},
		{"*/billing", "billing", false},
		{"team/billing", "registry.corp/team/billing", true},
		{"registry.corp/team/*", "registry.corp/team/billing", true},
		{"registry.corp/team/*", "registry.corp/other/billing", false},
		{"registry.corp/*", "registry.corp/team/billing", false},
		{"registry.corp/**", "registry.corp/team/billing", true},
		{"**/billing", "billing", true},
		{"registry.corp:5000/team/*", "registry.corp:5000/team/billing", true},
		{"*/billing:2", "registry.corp/team/billing", true},
		{"billing", "registry.corp/team/billing-svc", false},
		{"team", "registry.corp/team/billing", false},
	} {
		if got := MatchImage(tc.glob, tc.repo); got != tc.want {
			t.Errorf("MatchImage(%q, %q) = %v, want %v", tc.glob, tc.repo, got, tc.want)
		}
	}
	ws, err := Load(writeWS(t, with(prod("prod/h.jobs", pj("b-1", "registry.corp/team/billing-svc:3", "h1", 8080)+pj("n-1", "registry.corp/team/notify:1", "h2", 8080)+pj("x-1", "registry.corp/other/x:1", "h3", 80)),
		"services/billing/service.yaml", "match: {image: \"*/billing-svc\"}\n",
		"services/team/service.yaml", "match: {image: \"registry.corp/team/n*\"}\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := ws.ServiceNames(); !reflect.DeepEqual(got, []string{"billing", "team", "x"}) {
		t.Errorf("services %v", got)
	}
}
