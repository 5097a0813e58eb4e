package workspace

import (
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func jobText(name, host string, env ...string) string {
	s := "job {\n  name: \"" + name + "\"\n  image: \"img\"\n  run_on_host: \"" + host + "\"\n  envs { key: \"port\" value: \"80\" }\n"
	for i := 0; i+1 < len(env); i += 2 {
		s += "  envs { key: \"" + env[i] + "\" value: \"" + env[i+1] + "\" }\n"
	}
	return s + "}\n"
}

// writeWS creates a workspace from path -> content.
func writeWS(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if _, ok := files["clocal.yaml"]; !ok {
		files["clocal.yaml"] = "name: t\n"
	}
	return testutil.WriteFiles(t, root, files)
}

func base() map[string]string {
	return map[string]string{
		"services/a/a.job": jobText("a-1", "h-a"),
		"services/b/b.job": jobText("b-1", "h-b"),
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // every line of the error, in order
	}{
		{"unknown key", with(base(), "services/a/service.yaml", "source: .\n\n\n\n\n\nhelthcheck: {test: [CMD, x]}\n"),
			[]string{`services/a/service.yaml:7: unknown key "helthcheck" (did you mean "healthcheck"?)`}},
		{"list got mapping", with(base(), "services/a/service.yaml", "env: {X: 1}\n\ndepends_on:\n  b: yes\n"),
			[]string{`services/a/service.yaml:3: depends_on: expected a list of names, got a mapping`}},
		{"wrong types collected", with(base(), "services/a/service.yaml", "split_instances: yes please\nports: [80, http]\nbuild: {scirpt: x.sh}\nenv: [A]\n"),
			[]string{
				`services/a/service.yaml:1: split_instances: expected true or false, got "yes please"`,
				`services/a/service.yaml:2: ports[1]: expected an integer, got "http"`,
				`services/a/service.yaml:3: build: unknown key "scirpt" (did you mean "script"?)`,
				`services/a/service.yaml:4: env: expected a mapping of names to values, got a list`,
			}},
		{"duplicate key", with(base(), "services/a/service.yaml", "source: x\nsource: y\n"),
			[]string{`services/a/service.yaml:2: duplicate key "source"`}},
		{"invalid yaml", with(base(), "services/a/service.yaml", "env: {\n"),
			[]string{`services/a/service.yaml:1: invalid YAML: did not find expected node content`}},
		{"clocal.yaml", with(base(), "clocal.yaml", "name: t\nport_env: port\nlog: {max_size: big, max_file: 0}\njobsroot: x\n"),
			[]string{
				`clocal.yaml:2: port_env: expected a list of env key globs, got "port"`,
				`clocal.yaml:4: unknown key "jobsroot" (did you mean "jobs_root"?)`,
				`clocal.yaml:3: log.max_size: invalid size "big" (want a number with an optional k, m or g suffix)`,
			}},
		{"unknown dependency", with(base(), "services/a/service.yaml", "depends_on: [b, bb-1, zzz]\n"),
			[]string{
				`services/a/service.yaml:1: depends_on[1]: unknown service "bb-1" (did you mean "b-1"?)`,
				`services/a/service.yaml:1: depends_on[2]: unknown service "zzz"`,
			}},
		{"declared cycle", with(base(), "services/a/service.yaml", "depends_on: [b]\n", "services/b/service.yaml", "\ndepends_on: [h-a]\n"),
			[]string{`dependency cycle: a -> b -> a (a -> b at services/a/service.yaml:1; b -> a at services/b/service.yaml:2)`}},
		{"profile errors", with(base(), "profiles/p.yaml", "services: [a, c]\noverrides:\n  bb: {env: {X: y}}\n  a: {envv: {}}\n"),
			[]string{
				`profiles/p.yaml:4: overrides.a: unknown key "envv" (did you mean "env"?)`,
				`profiles/p.yaml:1: services[1]: unknown service "c"`,
				`profiles/p.yaml:3: overrides: unknown service "bb" (did you mean "b"?)`,
			}},
		{"local file", with(base(), "clocal.local.yaml", "sources:\n  aa: ../x\nenv:\n  b: {X: [1]}\nhealthcheck_interval: 3 seconds\n"),
			[]string{
				`clocal.local.yaml:4: env.b.X: expected a string value, got a list`,
				`clocal.local.yaml:2: sources: unknown service "aa" (did you mean "a"?)`,
				`clocal.local.yaml:5: healthcheck_interval: invalid duration "3 seconds" (e.g. 1s, 500ms, 1m30s)`,
			}},
		{"mounts and configs", with(base(), "services/a/service.yaml", "mounts: {/data: ../outside, rel: ./x}\nconfigs: [{source: nope.json, target: /etc/x}, {source: a.job, target: etc}]\nports: [0]\nhealthcheck: {interval: 1x}\n"),
			[]string{
				`services/a/service.yaml:3: ports[0]: 0 is not a port (1-65535)`,
				`services/a/service.yaml:4: healthcheck: test is required`,
				`services/a/service.yaml:4: healthcheck.interval: invalid duration "1x" (e.g. 1s, 500ms, 1m30s)`,
				`services/a/service.yaml:1: mounts./data: "../outside" is outside the workspace`,
				`services/a/service.yaml:1: mounts: container path "rel" must be absolute and clean`,
				`services/a/service.yaml:2: configs[0]: services/a/nope.json is not a file`,
				`services/a/service.yaml:2: configs[1]: target "etc" must be an absolute, clean container path`,
			}},
		{"jobs glob", with(base(), "services/a/service.yaml", "jobs: [\"*.jobs\"]\n", "services/c/README", "x"),
			[]string{
				`services/a/service.yaml:1: jobs[0]: "*.jobs" matches no files`,
				`services/c: no job files (*.job) in the service folder; add one or set jobs: in service.yaml`,
			}},
		{"job file claimed twice", with(base(), "services/c/service.yaml", "jobs: [../a/a.job]\n"),
			[]string{`services/c/service.yaml:1: jobs[0]: services/a/a.job is already the job file of services/a (each job file belongs to one service folder; with jobs_root, use match: to pick jobs)`}},
		{"job errors and collisions", with(base(), "services/c/c.job", jobText("a-1", "h-c"), "services/d/d.job", "job { name: \"d-1\" image: \"x\" nmae: \"y\" }\n", "services/e/e.job", jobText("b", "h-e")),
			[]string{
				`services/d/d.job:1:30: unknown field "nmae" in job (did you mean "name"?)`,
				`services/c/c.job:1:1: job "a-1" is also defined at services/a/a.job:1:1`,
				`services/e/e.job:1:1: job name "b" is also the name of service "b"`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeWS(t, tc.files)
			_, err := Load(root)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}
