package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v2/pkg/api"
	"github.com/docker/docker/api/types/container"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/version"
)

// TestLabelNamesMatchCompose: the one list of label names (package labels) spells compose's
// labels exactly as the compose library does, and the version label is the library's.
func TestLabelNamesMatchCompose(t *testing.T) {
	for ours, theirs := range map[string]string{
		labels.ComposeProject: api.ProjectLabel, labels.ComposeService: api.ServiceLabel,
		labels.ComposeVersion: api.VersionLabel, labels.ComposeWorkingDir: api.WorkingDirLabel,
		labels.ComposeConfigFiles: api.ConfigFilesLabel, labels.ComposeOneoff: api.OneoffLabel,
		labels.ComposeNetwork: api.NetworkLabel, labels.ComposeVolume: api.VolumeLabel,
		labels.ComposeDependencies: api.DependenciesLabel,
		labels.ComposeNumber:       api.ContainerNumberLabel, labels.ComposeReplace: api.ContainerReplaceLabel,
	} {
		if ours != theirs {
			t.Errorf("label %q, compose spells it %q", ours, theirs)
		}
	}
	if api.ComposeVersion != version.Compose() || api.ComposeVersion != "2.40.3" {
		t.Errorf("compose version label %q, build info says %q (go.mod pins 2.40.3)", api.ComposeVersion, version.Compose())
	}
}

// TestLoadSetsComposeLabels: projects from the one loader carry the labels compose needs to
// find their containers.
func TestLoadSetsComposeLabels(t *testing.T) {
	dir := t.TempDir()
	p, err := convert.Load(context.Background(), []byte(`
services:
  a: {image: x, labels: {dev.clocal.job: a}}
  b: {image: x, depends_on: [a], environment: {V: "$$HOME"}}
`), "clocaltest-labels", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Networks) != 1 {
		t.Errorf("default network missing: %v", p.Networks)
	}
	for _, name := range []string{"a", "b"} {
		l := p.Services[name].CustomLabels
		want := map[string]string{
			labels.ComposeProject:     "clocaltest-labels",
			labels.ComposeService:     name,
			labels.ComposeVersion:     "2.40.3",
			labels.ComposeWorkingDir:  p.WorkingDir,
			labels.ComposeConfigFiles: strings.Join(p.ComposeFiles, ","),
			labels.ComposeOneoff:      "False",
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("%s: label %s = %q, want %q", name, k, l[k], v)
			}
		}
	}
	if got := *p.Services["b"].Environment["V"]; got != "$HOME" {
		t.Errorf("$$ not unescaped: %q", got)
	}
	if p.Services["a"].Labels[labels.Job] != "a" {
		t.Errorf("service labels lost")
	}
	if _, err := convert.Load(context.Background(), []byte("services: {a: {image: x}}"), "Bad Name", dir); err == nil {
		t.Errorf("invalid project name accepted")
	}
}

func TestNarrow(t *testing.T) {
	p, err := convert.Load(context.Background(), []byte(`
services:
  a: {image: x}
  b: {image: x, depends_on: [a]}
  c: {image: x}
`), "clocaltest-narrow", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		services []string
		ignore   bool
		want     string
	}{
		{nil, false, "a,b,c"},
		{[]string{"b"}, false, "a,b"},
		{[]string{"b"}, true, "b"},
		{[]string{"c"}, false, "c"},
	}
	for _, tt := range tests {
		var n = p
		if tt.ignore {
			n, err = narrow(p, tt.services, types.IgnoreDependencies)
		} else {
			n, err = narrow(p, tt.services)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(n.ServiceNames(), ","); got != tt.want {
			t.Errorf("narrow(%v, ignore=%v) = %s, want %s", tt.services, tt.ignore, got, tt.want)
		}
		for _, s := range n.Services {
			if s.PullPolicy != "never" {
				t.Errorf("pull policy %q", s.PullPolicy)
			}
		}
	}
	if p.Services["a"].PullPolicy == "never" {
		t.Errorf("narrow modified its input")
	}
	if _, err := narrow(p, []string{"nope"}); err == nil {
		t.Errorf("unknown service accepted")
	}
}

func TestContainerReady(t *testing.T) {
	health := func(s string) *container.Health {
		return &container.Health{Status: s, Log: []*container.HealthcheckResult{{ExitCode: 1, Output: "boom\n"}}}
	}
	mk := func(status string, code int, policy container.RestartPolicyMode, h *container.Health) container.InspectResponse {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{
			State:      &container.State{Status: status, ExitCode: code, Health: h},
			HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: policy}},
		}}
	}
	tests := []struct {
		name         string
		in           container.InspectResponse
		ready, fatal bool
		reason       string
	}{
		{"running no healthcheck", mk("running", 0, "", nil), true, false, ""},
		{"healthy", mk("running", 0, "", health("healthy")), true, false, ""},
		{"starting", mk("running", 0, "", health("starting")), false, false, "health: starting (last check exit 1: boom)"},
		{"unhealthy", mk("running", 0, "", health("unhealthy")), false, true, "unhealthy (last check exit 1: boom)"},
		{"one-shot done", mk("exited", 0, "no", nil), true, false, ""},
		{"one-shot done, on-failure", mk("exited", 0, "on-failure", nil), true, false, ""},
		{"one-shot failed", mk("exited", 2, "no", nil), false, true, "exited with code 2"},
		{"always restarts", mk("exited", 0, "always", nil), false, false, "exited with code 0, waiting for restart"},
		{"on-failure restarts", mk("exited", 1, "on-failure", nil), false, false, "exited with code 1, waiting for restart"},
		{"restarting", mk("restarting", 1, "always", nil), false, false, "restarting (last exit code 1)"},
		{"created", mk("created", 0, "", nil), false, false, "created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready, reason, fatal := containerReady(tt.in)
			if ready != tt.ready || fatal != tt.fatal || reason != tt.reason {
				t.Errorf("got ready=%v fatal=%v reason=%q", ready, fatal, reason)
			}
		})
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(s string) { got = append(got, s) }}
	for _, chunk := range []string{"a\nb", "c\r\n", "\n", "tail"} {
		_, _ = w.Write([]byte(chunk))
	}
	w.Flush()
	if strings.Join(got, "|") != "a|bc||tail" {
		t.Errorf("lines: %q", got)
	}
}

func TestErrors(t *testing.T) {
	de := &DaemonError{Host: "unix:///x.sock", Err: syscall.ECONNREFUSED}
	if !errors.Is(fmt.Errorf("up: %w", de), ErrDaemonUnreachable) || !errors.Is(de, syscall.ECONNREFUSED) {
		t.Errorf("DaemonError does not match")
	}
	if want := `cannot reach the Docker daemon at unix:///x.sock: is it running? (start it with "sudo systemctl start docker", or set DOCKER_HOST)`; de.Error() != want {
		t.Errorf("message %q", de.Error())
	}
	perm := &DaemonError{Host: "unix:///x.sock", Err: syscall.EACCES}
	if !strings.Contains(perm.Error(), "docker\" group") {
		t.Errorf("permission message %q", perm.Error())
	}
	we := &WaitError{Timeout: 3 * time.Second, Services: map[string]string{"b": "no container", "a": "health: starting"}}
	if !errors.Is(we, ErrNotReady) || we.Error() != "services not ready after 3s: a: health: starting; b: no container" {
		t.Errorf("wait error %q", we.Error())
	}
	if _, err := recreate("sometimes"); err == nil {
		t.Errorf("bad recreate policy accepted")
	}
	if _, err := New(context.Background(), Options{ProgressMode: "fancy"}); err == nil {
		t.Errorf("bad progress mode accepted")
	}
}

// TestStatusDetails: the daemon's status texts (as `docker ps` shows them) give the same
// health and exit code an inspect would; listedReady lets only plainly ready containers
// skip the inspect.
func TestStatusDetails(t *testing.T) {
	cases := []struct {
		state, status string
		health        string
		exit          int
		listedReady   bool
	}{
		{"running", "Up 5 minutes (healthy)", "healthy", 0, true},
		{"running", "Up 2 seconds (health: starting)", "starting", 0, false},
		{"running", "Up 3 minutes (unhealthy)", "unhealthy", 0, false},
		{"running", "Up Less than a second", "", 0, true},
		{"exited", "Exited (137) 3 seconds ago", "", 137, false},
		{"exited", "Exited (0) About a minute ago", "", 0, false},
		{"dead", "Dead", "", 0, false},
		{"created", "Created", "", 0, false},
		{"paused", "Up 2 minutes (Paused)", "", 0, false},
		{"restarting", "Restarting (1) 2 seconds ago", "", 0, false},
	}
	for _, c := range cases {
		health, exit := statusDetails(c.state, c.status)
		if health != c.health || exit != c.exit {
			t.Errorf("statusDetails(%q, %q) = %q, %d; want %q, %d", c.state, c.status, health, exit, c.health, c.exit)
		}
		if got := listedReady(container.Summary{State: c.state, Status: c.status}); got != c.listedReady {
			t.Errorf("listedReady(%q, %q) = %v, want %v", c.state, c.status, got, c.listedReady)
		}
	}
}
