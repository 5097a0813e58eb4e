package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
	imageCli  client.APIClient
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageTag != "" && imageCli != nil {
		_ = testutil.RemoveImage(context.Background(), imageCli, imageTag)
	}
	os.Exit(code)
}

// serverImage builds the shared test image once (skips/fails like RequireDocker).
func serverImage(t *testing.T) string {
	t.Helper()
	testutil.RequireDocker(t)
	imageOnce.Do(func() {
		c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			imageErr = err
			return
		}
		imageCli = c
		tag := testutil.RandName("clocaltest/server:")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		imageErr = testutil.BuildTestServerImage(ctx, c, tag)
		if imageErr == nil {
			imageTag = tag
		}
	})
	if imageErr != nil {
		t.Fatalf("build test image: %v", imageErr)
	}
	return imageTag
}

type testEnv struct {
	e        engine.Engine
	api      client.APIClient
	out, err *testutil.SyncBuffer
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	api := testutil.RequireDocker(t)
	out, errw := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := engine.New(ctx, engine.Options{Out: out, Err: errw, ProgressMode: "plain"})
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &testEnv{e: e, api: api, out: out, err: errw}
}

// load loads YAML with IMAGE replaced by the test image, under a unique project name, and
// registers a Down (with volumes) for the end of the test.
func (env *testEnv) load(t *testing.T, yaml string) *types.Project {
	t.Helper()
	img := serverImage(t)
	name := testutil.RandName("clocaltest-")
	p, err := convert.Load(context.Background(), []byte(strings.ReplaceAll(yaml, "IMAGE", img)), name, t.TempDir())
	if err != nil {
		t.Fatalf("LoadProject: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		zero := time.Duration(0)
		if err := env.e.Down(ctx, name, engine.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &zero}); err != nil {
			t.Errorf("cleanup down: %v", err)
		}
	})
	return p
}

func (env *testEnv) ps(t *testing.T, project string) map[string]engine.Container {
	t.Helper()
	cs, err := env.e.Ps(context.Background(), project, engine.PsOptions{All: true})
	if err != nil {
		t.Fatalf("Ps: %v", err)
	}
	m := map[string]engine.Container{}
	for _, c := range cs {
		if _, dup := m[c.Service]; dup {
			t.Fatalf("two containers for service %s", c.Service)
		}
		m[c.Service] = c
	}
	return m
}

func labelFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))
}

// captureStdout runs fn with os.Stdout redirected to a pipe and returns what was written.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout = old
	}()
	fn()
	os.Stdout = old
	_ = w.Close()
	return <-done
}

const healthcheck = `
    healthcheck:
      test: ["CMD", "/server", "-healthcheck"]
      interval: 1s
      timeout: 2s
      retries: 30`

var twoServices = `
services:
  db:
    image: IMAGE
    pull_policy: never
    environment: {NAME: db}
    ports: ["127.0.0.1::8080"]
    volumes: ["data:/data", "/anon"]` + healthcheck + `
  web:
    image: IMAGE
    pull_policy: never
    environment: {NAME: web}
    ports: ["127.0.0.1::8080"]
    depends_on:
      db: {condition: service_healthy}` + healthcheck + `
volumes:
  data: {}
`

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestLifecycle(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, twoServices)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Up, waiting for the healthchecks; nothing may reach os.Stdout.
	var upErr error
	stdout := captureStdout(t, func() {
		upErr = env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 60 * time.Second})
	})
	if upErr != nil {
		t.Fatalf("Up: %v\nstderr:\n%s", upErr, env.err.String())
	}
	if stdout != "" {
		t.Errorf("Up wrote to os.Stdout: %q", stdout)
	}
	if !strings.Contains(env.err.String(), "Started") && !strings.Contains(env.err.String(), "Healthy") && !strings.Contains(env.err.String(), "Created") {
		t.Errorf("no progress written to Err: %q", env.err.String())
	}

	first := env.ps(t, p.Name)
	if len(first) != 2 {
		t.Fatalf("Ps: want 2 containers, got %v", first)
	}
	for _, svc := range []string{"db", "web"} {
		c := first[svc]
		if c.State != "running" || c.Health != "healthy" {
			t.Errorf("%s: state %q health %q, want running healthy", svc, c.State, c.Health)
		}
		if len(c.Publishers) != 1 || c.Publishers[0].HostIP != "127.0.0.1" || c.Publishers[0].TargetPort != 8080 ||
			c.Publishers[0].PublishedPort == 0 || c.Publishers[0].Protocol != "tcp" {
			t.Errorf("%s: publishers %+v, want one 127.0.0.1:<port>->8080/tcp", svc, c.Publishers)
		}
		if c.Labels[labels.ComposeProject] != p.Name || c.Image == "" {
			t.Errorf("%s: labels/image not reported: %+v", svc, c)
		}
	}
	webURL := fmt.Sprintf("http://127.0.0.1:%d/", first["web"].Publishers[0].PublishedPort)
	if got := httpGet(t, webURL); got != "hello from web\n" {
		t.Errorf("GET web: %q", got)
	}

	t.Run("second up recreates nothing", func(t *testing.T) {
		if err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Up: %v", err)
		}
		again := env.ps(t, p.Name)
		for svc, c := range first {
			if again[svc].ID != c.ID {
				t.Errorf("%s recreated by an unchanged Up", svc)
			}
		}
	})

	t.Run("replace swaps one container only", func(t *testing.T) {
		before := env.ps(t, p.Name)
		if err := env.e.Replace(ctx, p, "web", engine.ReplaceOptions{WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Replace web: %v", err)
		}
		after := env.ps(t, p.Name)
		if after["web"].ID == before["web"].ID {
			t.Errorf("web not recreated")
		}
		if after["web"].Health != "healthy" {
			t.Errorf("web health after Replace: %q", after["web"].Health)
		}
		if after["db"].ID != before["db"].ID {
			t.Errorf("db recreated by Replace(web)")
		}

		// Replacing the dependency leaves its dependent alone.
		zero := time.Duration(0)
		if err := env.e.Replace(ctx, p, "db", engine.ReplaceOptions{StopTimeout: &zero, WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Replace db: %v", err)
		}
		after2 := env.ps(t, p.Name)
		if after2["db"].ID == after["db"].ID {
			t.Errorf("db not recreated")
		}
		if after2["web"].ID != after["web"].ID || after2["web"].State != "running" {
			t.Errorf("web touched by Replace(db): %+v", after2["web"])
		}

		// No dependency is started: with db stopped, Replace(web) leaves it stopped.
		if err := env.e.Stop(ctx, p.Name, []string{"db"}, engine.StopOptions{Timeout: &zero}); err != nil {
			t.Fatalf("Stop db: %v", err)
		}
		if err := env.e.Replace(ctx, p, "web", engine.ReplaceOptions{StopTimeout: &zero, WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Replace web with db stopped: %v", err)
		}
		after3 := env.ps(t, p.Name)
		if after3["db"].State != "exited" || after3["db"].ID != after2["db"].ID {
			t.Errorf("db touched by Replace(web): %+v", after3["db"])
		}
		if err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Up after replace: %v", err)
		}
		final := env.ps(t, p.Name)
		if final["db"].ID != after3["db"].ID || final["web"].ID != after3["web"].ID {
			t.Errorf("Up after Replace recreated containers: before %v/%v after %v/%v",
				after3["db"].ID[:12], after3["web"].ID[:12], final["db"].ID[:12], final["web"].ID[:12])
		}
		// Up skips compose's start phase only when everything runs: the stopped db is started.
		if final["db"].State != "running" || final["web"].State != "running" {
			t.Errorf("after Up: db %s, web %s; want both running", final["db"].State, final["web"].State)
		}
		webURL = fmt.Sprintf("http://127.0.0.1:%d/", final["web"].Publishers[0].PublishedPort)
	})

	// A replace whose context ends mid-change (a Ctrl-C the moment the daemon reports each
	// step of compose's recreate) finishes the change: one started container, never the
	// old one removed and the new one left "created".
	for _, step := range []events.Action{events.ActionCreate, events.ActionKill, events.ActionDestroy} {
		t.Run("replace interrupted at "+string(step)+" finishes", func(t *testing.T) {
			before := env.ps(t, p.Name)
			rctx, interrupt := context.WithCancel(ctx)
			defer interrupt()
			msgs, errs := env.api.Events(rctx, events.ListOptions{Filters: filters.NewArgs(
				filters.Arg("type", string(events.ContainerEventType)),
				filters.Arg("label", labels.ComposeProject+"="+p.Name),
				filters.Arg("label", labels.ComposeService+"=web"))})
			go func() {
				for {
					select {
					case m := <-msgs:
						if m.Action == step {
							interrupt()
							return
						}
					case <-errs:
						return
					}
				}
			}()
			said := make(chan struct{}, 1)
			err := env.e.Replace(rctx, p, "web", engine.ReplaceOptions{WaitTimeout: 60 * time.Second, Interrupted: func() { said <- struct{}{} }})
			// nil: the replace was over (web ready) before the event reached this test.
			if err != nil {
				var ie *engine.InterruptedError
				if !errors.As(err, &ie) || !ie.Replaced || !errors.Is(err, context.Canceled) {
					t.Fatalf("Replace interrupted at %s: %v, want an InterruptedError with Replaced", step, err)
				}
				select {
				case <-said:
				case <-time.After(10 * time.Second):
					t.Error("Interrupted not called")
				}
			}
			cl, lerr := env.api.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
				filters.Arg("label", labels.ComposeProject+"="+p.Name), filters.Arg("label", labels.ComposeService+"=web"))})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(cl) != 1 || cl[0].State != "running" || cl[0].ID == before["web"].ID {
				var got []string
				for _, c := range cl {
					got = append(got, c.ID[:12]+"="+c.State)
				}
				t.Fatalf("web after the interrupted replace: %v; want one new container, running", got)
			}
			if err := env.e.Wait(ctx, p.Name, []string{"web"}, 60*time.Second); err != nil {
				t.Errorf("web not ready after the interrupted replace: %v", err)
			}
			if now := env.ps(t, p.Name)["web"]; len(now.Publishers) == 1 {
				webURL = fmt.Sprintf("http://127.0.0.1:%d/", now.Publishers[0].PublishedPort)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		type line struct {
			svc, ctr, text string
			stderr         bool
		}
		var mu sync.Mutex
		var got []line
		sink := engine.LogSinkFunc(func(svc, ctr, text string, stderr bool) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, line{svc, ctr, text, stderr})
		})
		if err := env.e.Logs(ctx, p.Name, nil, engine.LogOptions{}, sink); err != nil {
			t.Fatalf("Logs: %v", err)
		}
		want := map[line]bool{
			{"db", p.Name + "-db-1", "db listening on :8080", false}:    false,
			{"db", p.Name + "-db-1", "db stderr ready", true}:           false,
			{"web", p.Name + "-web-1", "web listening on :8080", false}: false,
		}
		for _, l := range got {
			if _, ok := want[l]; ok {
				want[l] = true
			}
		}
		for l, seen := range want {
			if !seen {
				t.Errorf("missing log line %+v in %+v", l, got)
			}
		}

		got = nil
		if err := env.e.Logs(ctx, p.Name, []string{"web"}, engine.LogOptions{Tail: "1"}, sink); err != nil {
			t.Fatalf("Logs web: %v", err)
		}
		if len(got) == 0 {
			t.Fatalf("Logs web: no lines")
		}
		for _, l := range got {
			if l.svc != "web" {
				t.Errorf("Logs(web) returned a line of %s: %+v", l.svc, l)
			}
		}

		// Follow until cancelled.
		mu.Lock()
		got = nil
		mu.Unlock()
		fctx, fcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- env.e.Logs(fctx, p.Name, []string{"web"}, engine.LogOptions{Follow: true, Tail: "0"}, sink)
		}()
		deadline := time.Now().Add(20 * time.Second)
		found := false
		for !found && time.Now().Before(deadline) {
			httpGet(t, webURL)
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			for _, l := range got {
				if l.svc == "web" && l.text == "request GET /" && !l.stderr {
					found = true
				}
			}
			mu.Unlock()
		}
		// A container recreated while following is picked up (its first line is logged
		// after the follow started, with Tail 0 nothing older is sent).
		zero := time.Duration(0)
		if err := env.e.Replace(ctx, p, "web", engine.ReplaceOptions{StopTimeout: &zero, WaitTimeout: 60 * time.Second}); err != nil {
			t.Fatalf("Replace during follow: %v", err)
		}
		reattached := false
		for i := 0; i < 100 && !reattached; i++ {
			mu.Lock()
			for _, l := range got {
				if l.svc == "web" && l.text == "web listening on :8080" {
					reattached = true
				}
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
		if !reattached {
			t.Errorf("follow did not pick up the recreated container: %+v", got)
		}
		fcancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Logs follow returned %v after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Logs follow did not return after cancel")
		}
		if !found {
			t.Errorf("follow: request line not seen; got %+v", got)
		}
	})

	t.Run("exec", func(t *testing.T) {
		code, err := env.e.Exec(ctx, p.Name, "web", engine.ExecOptions{Cmd: []string{"/server", "echo", "hello", "exec"}})
		if err != nil || code != 0 {
			t.Fatalf("Exec echo: code %d err %v", code, err)
		}
		if !strings.Contains(env.out.String(), "hello exec\n") {
			t.Errorf("exec output not on Out: %q", env.out.String())
		}
		code, err = env.e.Exec(ctx, p.Name, "web", engine.ExecOptions{Cmd: []string{"/server", "exit", "3"}})
		if err != nil || code != 3 {
			t.Errorf("Exec exit 3: code %d err %v", code, err)
		}
		code, err = env.e.Exec(ctx, p.Name, "web", engine.ExecOptions{Cmd: []string{"/server", "env", "FOO"}, Env: []string{"FOO=bar"}})
		if err != nil || code != 0 || !strings.Contains(env.out.String(), "bar\n") {
			t.Errorf("Exec env: code %d err %v out %q", code, err, env.out.String())
		}
		if _, err := env.e.Exec(ctx, p.Name, "nope", engine.ExecOptions{Cmd: []string{"/server"}}); err == nil {
			t.Errorf("Exec in unknown service: no error")
		}
	})

	t.Run("stop start restart", func(t *testing.T) {
		one := time.Second
		if err := env.e.Stop(ctx, p.Name, []string{"web"}, engine.StopOptions{Timeout: &one}); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		st := env.ps(t, p.Name)
		if st["web"].State != "exited" || st["db"].State != "running" {
			t.Fatalf("after Stop(web): web %s db %s", st["web"].State, st["db"].State)
		}
		running, err := env.e.Ps(ctx, p.Name, engine.PsOptions{})
		if err != nil || len(running) != 1 || running[0].Service != "db" {
			t.Errorf("Ps without All after Stop(web): %v %v", running, err)
		}
		if err := env.e.Start(ctx, p.Name, []string{"web"}); err != nil {
			t.Fatalf("Start: %v", err)
		}
		st2 := env.ps(t, p.Name)
		if st2["web"].State != "running" || st2["web"].ID != st["web"].ID {
			t.Fatalf("after Start(web): %+v", st2["web"])
		}
		if err := env.e.Restart(ctx, p.Name, nil, engine.StopOptions{Timeout: &one}); err != nil {
			t.Fatalf("Restart: %v", err)
		}
		st3 := env.ps(t, p.Name)
		for svc, c := range st3 {
			if c.State != "running" || c.ID != st2[svc].ID {
				t.Errorf("after Restart: %s %+v", svc, c)
			}
		}
	})

	t.Run("projects", func(t *testing.T) {
		ps, err := env.e.Projects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ps {
			if s.Name == p.Name {
				if s.Containers != 2 || s.Running != 2 || len(s.Services) != 2 || s.WorkingDir != p.WorkingDir ||
					len(s.Volumes) != 1 || len(s.Networks) != 1 {
					t.Errorf("summary: %+v", s)
				}
				return
			}
		}
		t.Errorf("project %s not listed in %+v", p.Name, ps)
	})

	t.Run("down", func(t *testing.T) {
		// Remember the anonymous volume of db.
		in, err := env.api.ContainerInspect(ctx, env.ps(t, p.Name)["db"].ID)
		if err != nil {
			t.Fatal(err)
		}
		var anon, named string
		for _, m := range in.Mounts {
			switch m.Destination {
			case "/anon":
				anon = m.Name
			case "/data":
				named = m.Name
			}
		}
		if anon == "" || named == "" {
			t.Fatalf("mounts: %+v", in.Mounts)
		}
		zero := time.Duration(0)
		var downErr error
		stdout := captureStdout(t, func() {
			downErr = env.e.Down(ctx, p.Name, engine.DownOptions{Timeout: &zero})
		})
		if downErr != nil {
			t.Fatalf("Down: %v", downErr)
		}
		if stdout != "" {
			t.Errorf("Down wrote to os.Stdout: %q", stdout)
		}
		ctrs, _ := env.api.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(p.Name)})
		nets, _ := env.api.NetworkList(ctx, network.ListOptions{Filters: labelFilter(p.Name)})
		vols, _ := env.api.VolumeList(ctx, volume.ListOptions{Filters: labelFilter(p.Name)})
		if len(ctrs) != 0 || len(nets) != 0 {
			t.Errorf("after Down: %d containers, %d networks left", len(ctrs), len(nets))
		}
		if len(vols.Volumes) != 1 || vols.Volumes[0].Name != named {
			t.Errorf("after Down: named volume %s should stay, got %+v", named, vols.Volumes)
		}
		if _, err := env.api.VolumeInspect(ctx, anon); !client.IsErrNotFound(err) {
			t.Errorf("anonymous volume %s not removed (err %v)", anon, err)
		}
		if err := env.e.Down(ctx, p.Name, engine.DownOptions{Volumes: true}); err != nil {
			t.Fatalf("Down volumes: %v", err)
		}
		vols, _ = env.api.VolumeList(ctx, volume.ListOptions{Filters: labelFilter(p.Name)})
		if len(vols.Volumes) != 0 {
			t.Errorf("after Down(Volumes): %+v", vols.Volumes)
		}
	})
}

func TestUpWaitOneShot(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, `
services:
  migrate:
    image: IMAGE
    pull_policy: never
    command: ["oneshot"]
    restart: "no"
  app:
    image: IMAGE
    pull_policy: never
    environment: {NAME: app}
    depends_on: [migrate]
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 30 * time.Second}); err != nil {
		t.Fatalf("Up with a one-shot service: %v", err)
	}
	t.Logf("Up with a one-shot service took %s", time.Since(start))
	st := env.ps(t, p.Name)
	if st["migrate"].State != "exited" || st["migrate"].ExitCode != 0 || st["app"].State != "running" {
		t.Errorf("states: %+v", st)
	}

	// Services subset: only app (its dependency is already done).
	if err := env.e.Up(ctx, p, engine.UpOptions{Services: []string{"app"}, Wait: true, WaitTimeout: 30 * time.Second}); err != nil {
		t.Fatalf("Up app: %v", err)
	}
}

func TestUpWaitTimeoutNamesService(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, `
services:
  ok:
    image: IMAGE
    pull_policy: never
    environment: {NAME: ok}
  after:
    image: IMAGE
    pull_policy: never
    environment: {NAME: after}
    depends_on:
      slow: {condition: service_healthy}
  slow:
    image: IMAGE
    pull_policy: never
    environment: {NAME: slow, UNHEALTHY: "1"}
    healthcheck:
      test: ["CMD", "/server", "-healthcheck"]
      interval: 1s
      retries: 1000
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 4 * time.Second})
	if !errors.Is(err, engine.ErrNotReady) {
		t.Fatalf("Up: want ErrNotReady, got %v", err)
	}
	// WaitTimeout, not ctx (2 min), ended the wait: ErrNotReady above, and the message names
	// the timeout. How long that takes is measured, not asserted.
	t.Logf("Up with WaitTimeout 4s returned after %s", time.Since(start))
	msg := err.Error()
	if !strings.Contains(msg, "slow: health: starting") || strings.Contains(msg, "ok:") || !strings.Contains(msg, "after 4s") {
		t.Errorf("error should name only the slow service and the timeout: %v", err)
	}

	// An unhealthy service fails fast.
	p2 := env.load(t, `
services:
  bad:
    image: IMAGE
    pull_policy: never
    environment: {NAME: bad, UNHEALTHY: "1"}
    healthcheck:
      test: ["CMD", "/server", "-healthcheck"]
      interval: 1s
      retries: 1
`)
	err = env.e.Up(ctx, p2, engine.UpOptions{Wait: true, WaitTimeout: 60 * time.Second})
	if !errors.Is(err, engine.ErrNotReady) || !strings.Contains(err.Error(), "bad: unhealthy") {
		t.Fatalf("Up unhealthy: %v", err)
	}
}

func TestUpMissingImage(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, `
services:
  ghost:
    image: clocaltest/does-not-exist:nope
`)
	err := env.e.Up(context.Background(), p, engine.UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "clocaltest/does-not-exist:nope") || !strings.Contains(err.Error(), "never pulls") {
		t.Fatalf("Up with a missing image: %v", err)
	}
}

func TestPingAndUnreachable(t *testing.T) {
	env := newEnv(t)
	if err := env.e.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := env.e.Reconnect(context.Background()); err != nil {
		t.Fatalf("Reconnect: %v", err)
	}
	if _, err := env.e.Ps(context.Background(), "clocaltest-none", engine.PsOptions{}); err != nil {
		t.Fatalf("Ps after Reconnect: %v", err)
	}

	// A daemon that accepts connections but never answers: the ping must time out.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	for _, host := range []string{"unix:///tmp/nonexistent.sock", "tcp://" + ln.Addr().String()} {
		t.Run(host, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", host)
			// New is bounded by PingTimeout, not by ctx (none here): it returns at all. How
			// fast is measured by scripts/bench/unreachable, against the compose CLI.
			errc := make(chan error, 1)
			go func() {
				_, err := engine.New(context.Background(), engine.Options{})
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(30 * time.Second):
				t.Fatal("New hangs against a dead daemon")
			}
			if !errors.Is(err, engine.ErrDaemonUnreachable) {
				t.Fatalf("New: want ErrDaemonUnreachable, got %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, host) || !strings.Contains(msg, "DOCKER_HOST") || strings.Contains(msg, "\n") {
				t.Errorf("message: %q", msg)
			}
		})
	}
}
