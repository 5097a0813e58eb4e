package convert

import (
	"reflect"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/pause"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func TestPauseImage(t *testing.T) {
	if PauseImage != pause.Image {
		t.Errorf("PauseImage %q, pause.Image %q", PauseImage, pause.Image)
	}
}

func TestServiceName(t *testing.T) {
	for in, want := range map[string]string{
		"repo-manager-1": "repo-manager-1", "Web_Frontend": "web_frontend", "a b/c": "a-b-c",
		"--x": "x", "": "job", "日本": "job", "ok.1": "ok.1",
	} {
		if got := ServiceName(in); got != want {
			t.Errorf("ServiceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPorts(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{{"port", true}, {"PORT", true}, {"admin_port", true}, {"HTTP_PORT", true}, {"Port", false}, {"portal", false}, {"port_env", false}} {
		if got := MatchPortKey(tc.key, DefaultPortEnv); got != tc.want {
			t.Errorf("MatchPortKey(%q) = %v", tc.key, got)
		}
	}
	for in, want := range map[string]int{"8866": 8866, "1": 1, "65535": 65535, "0": 0, "65536": 0, "svc-1:9300": 0, "80a": 0, "-80": 0, "": 0, "123456": 0} {
		got, ok := ParsePort(in)
		if got != want || ok != (want != 0) {
			t.Errorf("ParsePort(%q) = %d, %v", in, got, ok)
		}
	}
	j := &job.Job{Name: "j", Image: "i", Envs: []job.Env{{Key: "port", Value: "1"}, {Key: "port", Value: "8080"}, {Key: "admin_port", Value: "9000"},
		{Key: "markdown_port", Value: "svc-1:9300"}, {Key: "OTHER", Value: "70"}, {Key: "x_PORT", Value: "8080"}}}
	listening := func(rule []string) []int {
		ws, err := workspace.FromJobs([]*job.Job{j}, rule, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ws.Services["j"].Ports
	}
	if got := listening(DefaultPortEnv); !reflect.DeepEqual(got, []int{8080, 9000}) {
		t.Errorf("listening ports = %v", got)
	}
	if got := listening([]string{"OTHER"}); !reflect.DeepEqual(got, []int{70}) {
		t.Errorf("custom rule: %v", got)
	}
	for _, tc := range []struct {
		port int
		addr string
		eph  bool
		want string
	}{{8866, "127.0.0.1", false, "127.0.0.1:8866:8866"}, {8866, "127.0.0.1", true, "127.0.0.1::8866"}, {80, "0.0.0.0", false, "0.0.0.0:80:80"}, {80, "::1", false, "[::1]:80:80"}} {
		if got := PublishPort(tc.port, tc.addr, tc.eph); got != tc.want {
			t.Errorf("PublishPort(%d, %s, %v) = %s", tc.port, tc.addr, tc.eph, got)
		}
	}
}

func TestVolumeName(t *testing.T) {
	for _, tc := range []struct{ group, path, want string }{
		{"git-1", "/data", "git-1_data"},
		{"git-1", "/data/", "git-1_data"},
		{"git-1", "/var/lib/redis", "git-1_var_lib_redis"},
		{"git-1", "/var/lib_redis", "git-1_var_lib-redis-"},
		{"git-1", "/", "git-1_root-"},
		{"Git_1", "/data", "git_1_data"},
	} {
		got := VolumeName(tc.group, tc.path)
		if strings.HasSuffix(tc.want, "-") {
			if !strings.HasPrefix(got, tc.want) || len(got) != len(tc.want)+6 {
				t.Errorf("VolumeName(%s, %s) = %s, want %s<hash6>", tc.group, tc.path, got, tc.want)
			}
		} else if got != tc.want {
			t.Errorf("VolumeName(%s, %s) = %s, want %s", tc.group, tc.path, got, tc.want)
		}
	}
	if VolumeName("g", "/a/b") == VolumeName("g", "/a_b") {
		t.Error("/a/b and /a_b share a volume")
	}
}

func TestRestartMemEnvHealth(t *testing.T) {
	for in, want := range map[string]string{"": "no", "never": "no", "always": "always", "unless-stopped": "unless-stopped",
		"on_failure": "on-failure", "on-failure:3": "on-failure:3", "sometimes": "no"} {
		got, ok := Restart(in)
		if got != want || ok != (in != "sometimes") {
			t.Errorf("Restart(%q) = %q, %v", in, got, ok)
		}
	}
	if MemLimit(512) != "512m" || MemLimit(0) != "" {
		t.Error("MemLimit")
	}
	if EscapeEnv("a$b$$c${D}") != "a$$b$$$$c$${D}" {
		t.Error("EscapeEnv")
	}
	j := &job.Job{Name: "j", Image: "i", Envs: []job.Env{{Key: "A", Value: "job"}, {Key: "B", Value: "job"}, {Key: "C", Value: "job"}, {Key: "D", Value: "job"}}}
	got := MergeEnv(j, map[string]string{"B": "svc", "C": "svc", "D": "svc"}, map[string]string{"C": "profile", "D": "profile"}, map[string]string{"D": "local"})
	if want := map[string]string{"A": "job", "B": "svc", "C": "profile", "D": "local"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MergeEnv = %v", got)
	}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"curl -f x"}, []string{"CMD-SHELL", "curl -f x"}},
		{[]string{"CMD", "/bin/x"}, []string{"CMD", "/bin/x"}},
		{[]string{"/bin/x", "-h"}, []string{"CMD", "/bin/x", "-h"}},
		{[]string{"NONE"}, []string{"NONE"}},
	} {
		if got := HealthcheckTest(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("HealthcheckTest(%q) = %q", tc.in, got)
		}
	}
	if got := Aliases("svc", []string{"Git-1", "git-2", "svc"}, []string{"svc-1", "git-1"}); !reflect.DeepEqual(got, []string{"git-1", "git-2", "svc-1"}) {
		t.Errorf("Aliases = %v", got)
	}
}

func TestPlanOwnerAndWarnings(t *testing.T) {
	jobs := loadJobs(t, "testdata/jobs")
	p, err := FromJobs(jobs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for svc, owner := range map[string]string{"repo-manager-1": "host-git-1", "markdown-1": "host-git-1", "kvstore-1": "kvstore-1", "nope": ""} {
		if got := p.Owner(svc); got != owner {
			t.Errorf("Owner(%s) = %q, want %q", svc, got, owner)
		}
	}
	// repo-manager-2 listens on 8866 as repo-manager-1 does: a port the daemon picks, no warning
	if len(p.Warnings) != 0 || p.Rehomed != 1 {
		t.Errorf("warnings %q, %d ports rehomed", p.Warnings, p.Rehomed)
	}
}

func TestConvertErrors(t *testing.T) {
	j := &job.Job{Name: "x", Image: "img", RunOnHost: "h", Pos: job.Pos{File: "f.job", Line: 1, Col: 1},
		Volumes: []job.Volume{{ContainerPath: "data", HostPath: "/d", Pos: job.Pos{File: "f.job", Line: 3, Col: 3}},
			{ContainerPath: "/a/../b", HostPath: "/d", Pos: job.Pos{File: "f.job", Line: 4, Col: 3}},
			{ContainerPath: "/c", HostPath: "/d"}, {ContainerPath: "/c/", HostPath: "/e", Pos: job.Pos{File: "f.job", Line: 6, Col: 3}}}}
	_, err := FromJobs([]*job.Job{j, {Name: "y", Pos: job.Pos{File: "f.job", Line: 9, Col: 1}}, nil}, Options{})
	want := "f.job:9:1: job \"y\" has no image\n" +
		"f.job:3:3: container path \"data\" is not absolute\n" +
		"f.job:4:3: container path \"/a/../b\" has a \"..\" segment\n" +
		"f.job:1:1: service x: host_path /d and host_path /e both mount /c"
	if err == nil || err.Error() != want {
		t.Errorf("err:\n%v\nwant:\n%s", err, want)
	}
}

// TestPortStability (QA-13): a running service keeps its published host port when the
// model is re-rendered (an up of other targets, a recreate): the ports its container
// publishes (HostPorts) stay its own, before anything new claims the production port; an
// isolated stack's ports are picked once (FreePort) and kept (HostPorts) across a recreate.
func TestPortStability(t *testing.T) {
	dir := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml": "name: ports\njobs_root: prod\n",
		"prod/h.jobs": "job { name: \"a-1\" image: \"reg/a:1\" run_on_host: \"h1\" envs { key: \"PORT\" value: \"8080\" } }\n" +
			"job { name: \"b-1\" image: \"reg/b:1\" run_on_host: \"h2\" envs { key: \"PORT\" value: \"8080\" } }\n",
	})
	ws := loadWS(t, dir)
	ports := func(sel []string, o Options) map[string][]string {
		t.Helper()
		var s *workspace.Selection
		if sel != nil {
			var err error
			if s, err = ws.Resolve(sel); err != nil {
				t.Fatal(err)
			}
		}
		p, err := FromWorkspace(ws, s, o)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for name, svc := range p.file.Services {
			out[name] = svc.Ports
		}
		return out
	}
	next := 40000
	free := func() (int, error) { next++; return next, nil }
	for _, tc := range []struct {
		name string
		sel  []string
		o    Options
		want map[string][]string
	}{
		{"first up: a has 8080, b another port", nil, Options{FreePort: free},
			map[string][]string{"a": {"127.0.0.1:8080:8080"}, "b": {"127.0.0.1:40001:8080"}}},
		{"up b alone while b runs on 40001: b keeps it, though 8080 is free", []string{"b"},
			Options{FreePort: free, HostPorts: map[string]map[int]int{"b": {8080: 40001}}},
			map[string][]string{"b": {"127.0.0.1:40001:8080"}}},
		{"b runs on 8080 (up b first), then up all: a, first in order, does not take it", nil,
			Options{FreePort: free, HostPorts: map[string]map[int]int{"b": {8080: 8080}}},
			map[string][]string{"a": {"127.0.0.1:40002:8080"}, "b": {"127.0.0.1:8080:8080"}}},
		{"isolated: picked once", nil, Options{FreePort: free, EphemeralPorts: true},
			map[string][]string{"a": {"127.0.0.1:40003:8080"}, "b": {"127.0.0.1:40004:8080"}}},
		{"isolated, recreated: the same ports", nil,
			Options{FreePort: free, EphemeralPorts: true, HostPorts: map[string]map[int]int{"a": {8080: 40003}, "b": {8080: 40004}}},
			map[string][]string{"a": {"127.0.0.1:40003:8080"}, "b": {"127.0.0.1:40004:8080"}}},
		{"without FreePort the daemon picks", nil, Options{EphemeralPorts: true},
			map[string][]string{"a": {"127.0.0.1::8080"}, "b": {"127.0.0.1::8080"}}},
	} {
		if got := ports(tc.sel, tc.o); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: ports %v, want %v", tc.name, got, tc.want)
		}
	}
}
