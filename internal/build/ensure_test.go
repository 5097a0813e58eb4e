//go:build unix

package build_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// service writes a service folder: files relative to it; returns its Spec with
// Dir = Context = the folder, Outputs = .src/, no source.
func service(t *testing.T, name string, files map[string]string) build.Spec {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	writeTree(t, dir, files)
	s := build.Spec{
		Service:    name,
		Dir:        dir,
		Dockerfile: filepath.Join(dir, "Dockerfile"),
		Context:    dir,
		Outputs:    []string{filepath.Join(dir, ".src")},
	}
	if _, ok := files["build.sh"]; ok {
		s.Script = filepath.Join(dir, "build.sh")
	}
	return s
}

func newBuilder(t *testing.T, cli client.APIClient) (*build.Builder, *testutil.SyncBuffer) {
	out := &testutil.SyncBuffer{}
	return &build.Builder{Docker: cli, Out: out, CacheDir: filepath.Join(t.TempDir(), "cache")}, out
}

// builderFor is a fresh builder for s, with the content hash of s as it is now and the
// image of that hash removed at the end of the test.
func builderFor(t *testing.T, cli client.APIClient, s build.Spec) (*build.Builder, *testutil.SyncBuffer, string) {
	t.Helper()
	b, out := newBuilder(t, cli)
	hash, err := b.Hash(s)
	must(t, err)
	removeImage(t, cli, build.ImageRef(s.Service, hash))
	return b, out, hash
}

// nonce is a fresh random word.
func nonce(t *testing.T) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// forBackends runs test once with the classic builder and once with BuildKit: the output
// differs, the image (content, labels, user) and the errors' meaning must not.
func forBackends(t *testing.T, test func(t *testing.T, backend string)) {
	for _, backend := range []string{build.BackendClassic, build.BackendBuildKit} {
		t.Run(backend, func(t *testing.T) { test(t, backend) })
	}
}

// removeImage deletes ref at the end of the test.
func removeImage(t *testing.T, cli client.APIClient, ref string) {
	t.Cleanup(func() {
		_, err := cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove %s: %v", ref, err)
		}
	})
}

func imageMissing(t *testing.T, cli client.APIClient, ref string) {
	t.Helper()
	_, err := cli.ImageInspect(context.Background(), ref)
	if err == nil {
		t.Fatalf("image %s exists, want none", ref)
	}
	if !cerrdefs.IsNotFound(err) {
		t.Fatal(err)
	}
}

func lines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

const serverMain = `package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	health := flag.Bool("healthcheck", false, "probe the server and exit")
	flag.Parse()
	if *health {
		resp, err := http.Get("http://127.0.0.1:8080/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		return
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// TestEnsureGoServer: build.sh compiles a static Go server into .src/, a
// FROM scratch Dockerfile copies it. First Ensure builds, second does nothing
// (build.sh not run), force rebuilds.
func TestEnsureGoServer(t *testing.T) { forBackends(t, testEnsureGoServer) }

func testEnsureGoServer(t *testing.T, backend string) {
	cli := testutil.RequireDocker(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not in PATH")
	}
	ws := t.TempDir()
	src := filepath.Join(ws, "apps", "server")
	writeTree(t, src, map[string]string{"go.mod": "module example.com/server\n\ngo 1.21\n", "main.go": serverMain})
	run(t, src, "git", "init", "-q")
	run(t, src, "git", "add", ".")
	run(t, src, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
	rev := run(t, src, "git", "rev-parse", "--short", "HEAD")
	marker := filepath.Join(ws, "build-runs.log")

	s := service(t, "goserver", map[string]string{
		"build.sh": `set -eu
echo "run $CLOCAL_SERVICE" >> "$MARKER"
cur_dir=$(pwd)
mkdir -p ./.src/target
cd "$CLOCAL_SOURCE"
CGO_ENABLED=0 go build -o "$cur_dir/.src/target/server" .
cd "$cur_dir"
echo "test" > ./.src/.version
echo "compiled server"
`,
		"Dockerfile":    "FROM scratch\nCOPY .src/target/server /app/server\nUSER 65534\nEXPOSE 8080\nENTRYPOINT [\"/app/server\"]\n",
		".dockerignore": "*.md\n",
		"README.md":     "not sent\n",
	})
	s.Source = src
	s.Env = map[string]string{"MARKER": marker}
	s.Labels = map[string]string{labels.Workspace: "test"}
	b, out := newBuilder(t, cli)
	b.Backend = backend
	ctx := context.Background()

	hash, err := b.Hash(s)
	if err != nil {
		t.Fatal(err)
	}
	ref := build.ImageRef("goserver", hash)
	if want := "clocal/goserver:" + hash[:12]; ref != want {
		t.Fatalf("ImageRef = %s, want %s", ref, want)
	}
	removeImage(t, cli, ref)

	r1, err := b.Ensure(ctx, s, false)
	if err != nil {
		t.Fatalf("first Ensure: %v\n%s", err, out)
	}
	if !r1.Built || r1.Image != ref || r1.Hash != hash || r1.ScriptDur <= 0 || r1.ImageDur <= 0 {
		t.Fatalf("first Ensure = %+v, want built %s", r1, ref)
	}
	if n := lines(t, marker); n != 1 {
		t.Fatalf("build.sh ran %d times, want 1", n)
	}
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	got := insp.Config.Labels
	for k, want := range map[string]string{
		labels.Service: "goserver", labels.Hash: hash, labels.SourceRev: rev, labels.Workspace: "test",
	} {
		if got[k] != want {
			t.Errorf("label %s = %q, want %q", k, got[k], want)
		}
	}
	if at, err := time.Parse(time.RFC3339, got[labels.BuiltAt]); err != nil || time.Since(at) > time.Hour {
		t.Errorf("label %s = %q: %v", labels.BuiltAt, got[labels.BuiltAt], err)
	}
	if insp.Config.User != "65534" {
		t.Errorf("image user = %q, want 65534", insp.Config.User)
	}
	text := out.String()
	step := map[string]string{build.BackendClassic: "goserver | Step 1/6 : FROM scratch\n", build.BackendBuildKit: "goserver | [1/1] COPY .src/target/server /app/server\n"}[backend]
	for _, want := range []string{"goserver | compiled server\n", step, "goserver | $ bash build.sh\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(l, "goserver | ") {
			t.Errorf("unprefixed output line %q", l)
		}
	}

	// Unchanged: nothing runs.
	r2, err := b.Ensure(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Built || r2.Image != ref || r2.ScriptDur != 0 || r2.ImageDur != 0 {
		t.Fatalf("second Ensure = %+v, want not built", r2)
	}
	if n := lines(t, marker); n != 1 {
		t.Fatalf("build.sh ran again (%d runs) for an unchanged service", n)
	}
	// A fresh Builder (new process, stat cache from disk) agrees.
	b2 := &build.Builder{Docker: cli, CacheDir: b.CacheDir}
	if r, err := b2.Ensure(ctx, s, false); err != nil || r.Built {
		t.Fatalf("Ensure with a new Builder = %+v, %v", r, err)
	}

	// Forced: rebuilds the same tag.
	r3, err := b.Ensure(ctx, s, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r3.Built || r3.Image != ref {
		t.Fatalf("forced Ensure = %+v", r3)
	}
	if n := lines(t, marker); n != 2 {
		t.Fatalf("forced Ensure ran build.sh %d times in total, want 2", n)
	}

	// Editing the source makes a new image and marks the revision dirty.
	write(t, filepath.Join(src, "main.go"), strings.Replace(serverMain, `"ok"`, `"ok!"`, 1))
	r4, err := b.Ensure(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	removeImage(t, cli, r4.Image)
	if !r4.Built || r4.Image == ref {
		t.Fatalf("Ensure after a source edit = %+v, want a new image", r4)
	}
	insp, err = cli.ImageInspect(ctx, r4.Image)
	if err != nil {
		t.Fatal(err)
	}
	if got := insp.Config.Labels[labels.SourceRev]; got != rev+"-dirty" {
		t.Errorf("source-rev after edit = %q, want %q", got, rev+"-dirty")
	}
}

// ttyScript is exactly the kind of line production build scripts contain.
// Without a terminal on stdin it fails: docker prints
// "the input device is not a TTY" and exits 1 (asserted below).
const ttyScript = `docker run -it --rm -v "$(pwd):/app" clocal/busybox:local sh -c 'echo built > /app/.src/out.txt'
`

func TestEnsureScriptGetsTTY(t *testing.T) {
	cli := testutil.RequireDocker(t)
	testutil.EnsureBusybox(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is required for this test")
	}
	s := service(t, "ttysvc", map[string]string{
		"build.sh":   ttyScript,
		"Dockerfile": "FROM scratch\nCOPY .src/out.txt /out.txt\n",
	})
	must(t, os.MkdirAll(filepath.Join(s.Dir, ".src"), 0o755))

	// Without a pty: the same script fails.
	cmd := exec.Command("bash", s.Script)
	cmd.Dir = s.Dir
	outNoTTY, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(outNoTTY), "the input device is not a TTY") {
		t.Fatalf("without a pty: err=%v output=%q; want the TTY error", err, outNoTTY)
	}

	b, out, _ := builderFor(t, cli, s)
	r, err := b.Ensure(context.Background(), s, false)
	if err != nil {
		t.Fatalf("Ensure: %v\n%s", err, out)
	}
	if !r.Built {
		t.Fatalf("Ensure = %+v", r)
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, ".src", "out.txt"))
	must(t, err)
	if string(data) != "built\n" {
		t.Fatalf("out.txt = %q", data)
	}
	if strings.Contains(out.String(), "not a TTY") {
		t.Fatalf("output mentions the TTY error:\n%s", out)
	}
}

// TestEnsureScriptEnvironment checks the documented build.sh environment and
// the terminal it runs on.
func TestEnsureScriptEnvironment(t *testing.T) {
	cli := testutil.RequireDocker(t)
	s := service(t, "envsvc", map[string]string{
		"build.sh": `mkdir -p .src
tty=no; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && tty=yes
{
  echo "CLOCAL=$CLOCAL"
  echo "CLOCAL_SERVICE=$CLOCAL_SERVICE"
  echo "CLOCAL_SOURCE=$CLOCAL_SOURCE"
  echo "CLOCAL_HASH=$CLOCAL_HASH"
  echo "CLOCAL_IMAGE=$CLOCAL_IMAGE"
  echo "EXTRA=$EXTRA"
  echo "INHERITED=$CLOCAL_TEST_INHERITED"
  echo "PWD=$(pwd -P)"
  echo "TTY=$tty"
  echo "SIZE=$(stty size < /dev/tty)"
} > .src/env.txt
`,
		"Dockerfile": "FROM scratch\nCOPY .src/env.txt /env.txt\n",
	})
	s.Source = t.TempDir()
	s.Env = map[string]string{"EXTRA": "x y", "CLOCAL": "overridden?"}
	t.Setenv("CLOCAL_TEST_INHERITED", "yes")
	b, out, hash := builderFor(t, cli, s)
	ref := build.ImageRef(s.Service, hash)
	if _, err := b.Ensure(context.Background(), s, false); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, ".src", "env.txt"))
	must(t, err)
	dir, _ := filepath.EvalSymlinks(s.Dir)
	for _, want := range []string{
		"CLOCAL=1\n", "CLOCAL_SERVICE=envsvc\n", "CLOCAL_SOURCE=" + s.Source + "\n", "CLOCAL_HASH=" + hash + "\n",
		"CLOCAL_IMAGE=" + ref + "\n", "EXTRA=x y\n", "INHERITED=yes\n", "PWD=" + dir + "\n", "TTY=yes\n", "SIZE=40 120\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("env.txt lacks %q:\n%s", want, data)
		}
	}
}

func TestEnsureScriptFailure(t *testing.T) {
	cli := testutil.RequireDocker(t)
	s := service(t, "failsvc", map[string]string{
		"build.sh":   "echo step1; echo boom >&2; exit 3\n",
		"Dockerfile": "FROM scratch\nCOPY build.sh /build.sh\n",
	})
	b, out, hash := builderFor(t, cli, s)
	ref := build.ImageRef(s.Service, hash)

	_, err := b.Ensure(context.Background(), s, false)
	var se *build.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want *ScriptError", err, err)
	}
	if se.ExitCode != 3 || se.Service != "failsvc" {
		t.Fatalf("ScriptError = %+v", se)
	}
	if got, want := err.Error(), "build.sh for failsvc failed (exit status 3)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if strings.Join(se.Tail, "\n") != "step1\nboom" {
		t.Errorf("Tail = %q, want [step1 boom]", se.Tail)
	}
	if !strings.Contains(out.String(), "failsvc | boom\n") {
		t.Errorf("output lacks the prefixed stderr line:\n%s", out)
	}
	if strings.Contains(out.String(), "building image") {
		t.Errorf("an image build was started after the script failed:\n%s", out)
	}
	imageMissing(t, cli, ref)
}

func TestEnsureMissingBaseImage(t *testing.T) {
	cli := testutil.RequireDocker(t)
	tests := []struct {
		name, dockerfile, image string
	}{
		{"from", "FROM java:8-jdk\nCOPY .src/target/app.jar /app.jar\n", "java:8-jdk"},
		{"from as with stages", "FROM clocal/does-not-exist:1 AS build\nRUN make\nFROM build\n", "clocal/does-not-exist:1"},
		{"copy from", "FROM scratch\nCOPY --from=clocal/nope:2 /x /x\n", "clocal/nope:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			s := service(t, "missing", map[string]string{
				"build.sh":   "touch " + strconv.Quote(marker) + "\n",
				"Dockerfile": tt.dockerfile,
			})
			b, out := newBuilder(t, cli)
			_, err := b.Ensure(context.Background(), s, false)
			var me *build.MissingImageError
			if !errors.As(err, &me) || me.Image != tt.image {
				t.Fatalf("err = %v, want MissingImageError for %s", err, tt.image)
			}
			want := `base image "` + tt.image + `" is not present locally: pull it (docker pull ` + tt.image + `) or build it first`
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q, want it to contain %q", err, want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("build.sh ran although the base image is missing")
			}
			if out.String() != "" {
				t.Fatalf("something ran:\n%s", out)
			}
			imageMissing(t, cli, tt.image)
		})
	}
}

func TestEnsureImageBuildFailure(t *testing.T) { forBackends(t, testEnsureImageBuildFailure) }

func testEnsureImageBuildFailure(t *testing.T, backend string) {
	cli := testutil.RequireDocker(t)
	busybox := testutil.EnsureBusybox(t)
	s := service(t, "imgfail", map[string]string{
		"Dockerfile": "FROM " + busybox + "\nRUN echo compiling && echo broken >&2 && exit 7\n",
	})
	b, out, hash := builderFor(t, cli, s)
	b.Backend = backend
	ref := build.ImageRef(s.Service, hash)
	_, err := b.Ensure(context.Background(), s, false)
	var ie *build.ImageError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v (%T), want *ImageError\n%s", err, err, out)
	}
	code := map[string]string{build.BackendClassic: "non-zero code: 7", build.BackendBuildKit: "exit code: 7"}[backend]
	if !strings.Contains(ie.Msg, code) || !strings.Contains(strings.Join(ie.Tail, "\n"), "compiling") || !strings.Contains(strings.Join(ie.Tail, "\n"), "broken") {
		t.Fatalf("ImageError = %+v", ie)
	}
	imageMissing(t, cli, ref)
}

// TestEnsureCancelKillsProcessGroup: cancelling the context kills build.sh and
// the processes it started.
func TestEnsureCancelKillsProcessGroup(t *testing.T) {
	cli := testutil.RequireDocker(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	s := service(t, "cancelsvc", map[string]string{
		"build.sh":   "sleep 300 &\necho $! > " + strconv.Quote(pidFile) + "\necho started\nwait\n",
		"Dockerfile": "FROM scratch\nCOPY build.sh /build.sh\n",
	})
	b, out := newBuilder(t, cli)
	b.KillGrace = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.Ensure(ctx, s, false)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "cancelsvc | started") {
		if time.Now().After(deadline) {
			t.Fatalf("script did not start:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	data, err := os.ReadFile(pidFile)
	must(t, err)
	child, err := strconv.Atoi(strings.TrimSpace(string(data)))
	must(t, err)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		var se *build.ScriptError
		if !errors.As(err, &se) {
			t.Fatalf("err = %T, want *ScriptError", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Ensure did not return after cancel")
	}
	for time.Since(start) < 10*time.Second {
		if err := syscall.Kill(child, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("background child %d of build.sh survived the cancel", child)
}

// TestEnsureWritesOnlyToOut redirects the process's stdout and stderr while a
// build (script with stdout+stderr output and an image build) runs: nothing may
// reach them, everything goes to Builder.Out.
func TestEnsureWritesOnlyToOut(t *testing.T) { forBackends(t, testEnsureWritesOnlyToOut) }

func testEnsureWritesOnlyToOut(t *testing.T, backend string) {
	cli := testutil.RequireDocker(t)
	s := service(t, "quiet", map[string]string{
		"build.sh":   "echo to-stdout; echo to-stderr >&2; mkdir -p .src; echo x > .src/x\n",
		"Dockerfile": "FROM scratch\nCOPY .src/x /x\n",
	})
	b, out, _ := builderFor(t, cli, s)
	b.Backend = backend

	leaked := captureStdio(t, func() {
		if _, err := b.Ensure(context.Background(), s, false); err != nil {
			t.Errorf("Ensure: %v", err)
		}
	})
	if leaked != "" {
		t.Fatalf("written to os.Stdout/os.Stderr: %q", leaked)
	}
	done := map[string]string{build.BackendClassic: "quiet | Successfully tagged", build.BackendBuildKit: "quiet | exporting to image"}[backend]
	for _, want := range []string{"quiet | to-stdout\n", "quiet | to-stderr\n", done} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Out lacks %q:\n%s", want, out)
		}
	}
}

// captureStdio runs f with os.Stdout and os.Stderr redirected to a pipe and
// returns what was written to them.
func captureStdio(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	must(t, err)
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(copied)
	}()
	func() {
		defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
		f()
	}()
	_ = w.Close()
	<-copied
	_ = r.Close()
	return buf.String()
}

// Concurrent Ensure calls for one service are serialised: the script runs once.
func TestEnsureConcurrentSameService(t *testing.T) {
	cli := testutil.RequireDocker(t)
	marker := filepath.Join(t.TempDir(), "runs")
	s := service(t, "concsvc", map[string]string{
		"build.sh":   "echo run >> " + strconv.Quote(marker) + "\nmkdir -p .src; echo x > .src/x\n",
		"Dockerfile": "FROM scratch\nCOPY .src/x /x\n",
	})
	b, out, _ := builderFor(t, cli, s)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Ensure(context.Background(), s, false)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if n := lines(t, marker); n != 1 {
		t.Fatalf("build.sh ran %d times, want 1", n)
	}
}

// TestEnsureSplitReplicasBuildOnce (QA-4): the replicas of one app split into several
// services (same service folder and source, another service name) built at once run
// build.sh once: the others wait for it and tag its image. A forced rebuild asked for all
// of them at once also runs once; a later forced rebuild runs again.
func TestEnsureSplitReplicasBuildOnce(t *testing.T) {
	cli := testutil.RequireDocker(t)
	marker := filepath.Join(t.TempDir(), "runs")
	base := service(t, "split", map[string]string{
		"build.sh":   "echo run >> " + strconv.Quote(marker) + "\nmkdir -p .src; echo " + nonce(t) + " > .src/x\nsleep 0.3\n",
		"Dockerfile": "FROM scratch\nCOPY .src/x /x\n",
	})
	var specs []build.Spec
	for _, name := range []string{"split-1", "split-2", "split-3"} {
		s := base
		s.Service = name
		specs = append(specs, s)
	}
	b, out := newBuilder(t, cli)
	ensureAll := func(force bool) []build.Result {
		t.Helper()
		res := make([]build.Result, len(specs))
		errs := make([]error, len(specs))
		var wg sync.WaitGroup
		for i, s := range specs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = b.Ensure(context.Background(), s, force)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		return res
	}
	res := ensureAll(false)
	for _, r := range res {
		removeImage(t, cli, r.Image)
	}
	if n := lines(t, marker); n != 1 {
		t.Fatalf("build.sh ran %d times for 3 replicas of one folder, want 1\n%s", n, out)
	}
	id := func(ref string) string {
		insp, err := cli.ImageInspect(context.Background(), ref)
		must(t, err)
		return insp.ID
	}
	for _, r := range res[1:] {
		if id(r.Image) != id(res[0].Image) || r.Image == res[0].Image {
			t.Errorf("%s is not a tag of %s's image", r.Image, res[0].Image)
		}
	}
	removeImage(t, cli, id(res[0].Image)) // untagged by the forced rebuild below
	ensureAll(true)
	if n := lines(t, marker); n != 2 {
		t.Fatalf("a forced rebuild of the 3 replicas ran build.sh %d times in all, want 2", n)
	}
	if _, err := b.Ensure(context.Background(), specs[1], true); err != nil {
		t.Fatal(err)
	}
	if n := lines(t, marker); n != 3 {
		t.Fatalf("a later forced rebuild ran build.sh %d times in all, want 3", n)
	}
}

// TestEnsureContextAndLabels: the image sees exactly the context docker would
// send (nothing clocal adds leaks into COPY), and label values are passed
// verbatim (quotes, $, backslashes).
func TestEnsureContextAndLabels(t *testing.T) { forBackends(t, testEnsureContextAndLabels) }

func testEnsureContextAndLabels(t *testing.T, backend string) {
	cli := testutil.RequireDocker(t)
	busybox := testutil.EnsureBusybox(t)
	tests := []struct {
		name         string
		dockerignore string
		want         []string // ls -A1 /ctx
	}{
		{"no dockerignore", "", []string{"Dockerfile", "app.txt", "notes.md"}},
		{"with dockerignore", "*.md\n", []string{".dockerignore", "Dockerfile", "app.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{
				// The nonce keeps BuildKit's cache from answering the RUN without running it
				// (its output is what the test reads).
				"Dockerfile": "FROM " + busybox + "\nCOPY . /ctx/\nRUN echo listing " + nonce(t) + " && ls -A1 /ctx | sed 's/^/ctx: /'\n",
				"app.txt":    "x",
				"notes.md":   "x",
			}
			if tt.dockerignore != "" {
				files[".dockerignore"] = tt.dockerignore
			}
			s := service(t, "ctxsvc", files)
			s.Labels = map[string]string{"weird": `a "b" $HOME \ c ` + "`x`", labels.Hash: "user labels do not win"}
			b, out := newBuilder(t, cli)
			b.Backend = backend
			hash, err := b.Hash(s)
			must(t, err)
			ref := build.ImageRef(s.Service, hash)
			removeImage(t, cli, ref)
			if _, err := b.Ensure(context.Background(), s, false); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got []string
			for _, l := range strings.Split(out.String(), "\n") {
				if rest, ok := strings.CutPrefix(l, "ctxsvc | ctx: "); ok {
					got = append(got, rest)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("context in the image = %q, want %q\n%s", got, tt.want, out)
			}
			insp, err := cli.ImageInspect(context.Background(), ref)
			must(t, err)
			if got := insp.Config.Labels["weird"]; got != s.Labels["weird"] {
				t.Errorf("label weird = %q, want %q", got, s.Labels["weird"])
			}
			if got := insp.Config.Labels[labels.Hash]; got != hash {
				t.Errorf("label %s = %q, want %q", labels.Hash, got, hash)
			}
		})
	}
}

// A build.sh that writes outside its declared Outputs is reported: otherwise the
// service would silently rebuild on every run.
func TestEnsureWarnsWhenScriptChangesInputs(t *testing.T) {
	cli := testutil.RequireDocker(t)
	s := service(t, "dirtysvc", map[string]string{
		"build.sh":   "mkdir -p .src; date +%s%N > .src/stamp; date +%s%N > generated.txt\n",
		"Dockerfile": "FROM scratch\nCOPY build.sh /build.sh\n",
	})
	b, out, _ := builderFor(t, cli, s)
	if _, err := b.Ensure(context.Background(), s, false); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "dirtysvc | warning: build.sh changed files the content hash covers (context/generated.txt)"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	if strings.Count(out.String(), "warning:") != 1 {
		t.Fatalf("want exactly one warning (.src/ is an output):\n%s", out)
	}
	h2, err := b.Hash(s)
	must(t, err)
	removeImage(t, cli, build.ImageRef(s.Service, h2))
}
