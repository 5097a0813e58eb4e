package doctor

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestParseDF(t *testing.T) {
	blocks := "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         263112772 14523180 235130116       6% /\n"
	inodes := "Filesystem       Inodes  IUsed    IFree IUse% Mounted on\n/dev/vda       16777216 531210 16246006       4% /\n"
	d, err := parseDF(blocks, inodes)
	if err != nil {
		t.Fatal(err)
	}
	if d.Free != 235130116*1024 || d.Inodes != 16246006 || d.TotalInodes != 16777216 {
		t.Fatalf("parseDF = %+v", d)
	}
	// a long device name wraps the numbers onto the next line in some df versions: POSIX
	// mode keeps one line, but the numbers are read from the end either way
	long := "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/mapper/a-very-long-volume-group-name 100 50 42 50% /var/lib/docker\n"
	if d, err := parseDF(long, inodes); err != nil || d.Free != 42*1024 {
		t.Fatalf("parseDF(long) = %+v, %v", d, err)
	}
	if _, err := parseDF("garbage", ""); err == nil {
		t.Fatal("parseDF accepted garbage")
	}
}

// remoteWS is a workspace whose one service's build.sh runs docker.
func remoteWS(t *testing.T) string {
	return testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":           "name: t\n",
		"services/a/a.job":      "job: < name: \"a-1\" image: \"a\" run_on_host: \"h-a\" envs: < key: \"port\" value: \"8080\" > >\n",
		"services/a/build.sh":   "#!/bin/sh\ndocker run --rm -v \"$(pwd)/.src:/out\" tool true\n",
		"services/a/Dockerfile": "FROM scratch\n",
	})
}

// TestDoctorRemoteHost: against the second Docker host over ssh, doctor reports that host's
// version, storage driver, free disk (read with df over ssh) and BuildKit, and says that a
// build script running docker needs this machine's daemon, which must answer.
func TestDoctorRemoteHost(t *testing.T) {
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := engine.Host{URL: h.URL}
	docker, err := engine.NewHostClient(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	ws := load(t, remoteWS(t))
	info, err := h.Client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base := Env{WS: ws, Targets: []string{"a"}, Docker: docker, Run: run, Build: engine.ThisMachine(run)}
	fs := Run(ctx, noFaults(base))
	for _, c := range []struct{ check, want string }{
		{"docker", "reachable on " + h.URL},
		{"storage", "storage driver " + info.Driver + " on " + h.URL},
		{"disk", "free under " + info.DockerRootDir + " on " + h.URL},
		{"builder", "BuildKit on " + h.URL},
		{"build-host", "this machine's Docker daemon"},
		{"ports", "forwarded to this machine"},
	} {
		f := one(t, fs, c.check)
		if f.Severity == Blocker || !strings.Contains(f.Message, c.want) {
			t.Errorf("%s: %+v, want %q", c.check, f, c.want)
		}
	}
	// A process of that host listens on a's port: up publishes a on another port there.
	h.Listen(t, "127.0.0.1:8080") // the host's own network namespace: not this machine's port
	if f := one(t, Run(ctx, noFaults(base)), "ports"); f.Severity != Warn || !strings.Contains(f.Message, "port 8080 (a) is already taken on "+h.URL+" by a process of "+h.URL) {
		t.Errorf("ports with 8080 taken on the host: %+v", f)
	}
	// This machine's daemon does not answer: the build script cannot run.
	down := base
	down.Build = engine.Host{URL: "unix:///nonexistent/docker.sock"}
	f := one(t, Run(ctx, noFaults(down)), "build-host")
	if f.Severity != Blocker || !strings.Contains(f.Message, "a run docker") || !strings.Contains(f.Fix, "build_host: run") {
		t.Errorf("build-host with this machine's daemon down: %+v", f)
	}
	// build_host: run sends them to the remote host, where this machine's paths do not exist.
	onRun := base
	onRun.Build = run
	if f := one(t, Run(ctx, noFaults(onRun)), "build-host"); f.Severity != Warn || !strings.Contains(f.Message, "do not exist") {
		t.Errorf("build-host with build_host: run: %+v", f)
	}
	_ = docker.Close()
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Errorf("ssh processes left: %v", ps)
	}
}
