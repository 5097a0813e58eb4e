package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/clocal-dev/clocal/internal/engine"
)

// slowHealth is a healthcheck the way clocal emits it for a service file saying
// `interval: 1s, retries: 30` (internal/convert/health.go): Docker probes every 2 minutes,
// clocal probes readiness itself at 1 s while it waits.
const slowHealth = `
    healthcheck:
      test: ["CMD", "/server", "-healthcheck"]
      interval: 2m
      timeout: 2s
      retries: 3
      start_period: 30s
    labels:
      dev.clocal.readiness: interval=1s timeout=2s retries=30 start_period=0s`

// TestUpStartsDependentsWhenClocalFindsThemReady: with Docker's probes minutes apart, up
// still starts a dependent only once its dependency is ready, and returns once everything
// is ready, both by clocal's own readiness probes: db becomes healthy when the test says so
// (its READY_FILE appears), web must not start before, and neither waits for Docker's first
// probe (still to come when Up returns). Afterwards nothing probes while nobody waits.
func TestUpStartsDependentsWhenClocalFindsThemReady(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, `
services:
  db:
    image: IMAGE
    pull_policy: never
    environment: {NAME: db, READY_FILE: /tmp/ready}
    tmpfs: [/tmp]`+slowHealth+`
  web:
    image: IMAGE
    pull_policy: never
    environment: {NAME: web}
    depends_on:
      db: {condition: service_healthy}`+slowHealth+`
`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	upErr := make(chan error, 1)
	go func() { upErr <- env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 2 * time.Minute}) }()

	states := func() map[string]container.Summary {
		cl, err := env.api.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(p.Name)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]container.Summary{}
		for _, c := range cl {
			out[c.Labels["com.docker.compose.service"]] = c
		}
		return out
	}
	// db runs and is probed (failing: no /ready yet); web must stay created meanwhile.
	deadline := time.Now().Add(2 * time.Minute)
	var db container.Summary
	for {
		s := states()
		if s["web"].State == "running" {
			t.Fatalf("web started before db was ready: %+v", s)
		}
		if db = s["db"]; db.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("db never started: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let clocal probe db a few times (1 s interval) and check web stays put.
	for i := 0; i < 30; i++ {
		if s := states(); s["web"].State == "running" {
			t.Fatalf("web started before db was ready: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-upErr:
		t.Fatalf("Up returned before db was ready: %v", err)
	default:
	}
	madeReady := time.Now()
	code, err := env.e.Exec(ctx, p.Name, "db", engine.ExecOptions{Cmd: []string{"/server", "touch", "/tmp/ready"}})
	if err != nil || code != 0 {
		t.Fatalf("touch /ready in db: %d, %v", code, err)
	}
	if err := <-upErr; err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Logf("Up returned %s after db was made ready", time.Since(madeReady).Round(time.Millisecond))
	for _, svc := range []string{"db", "web"} {
		in, err := env.api.ContainerInspect(ctx, states()[svc].ID)
		if err != nil {
			t.Fatal(err)
		}
		if in.State.Health == nil || in.State.Health.Status != "starting" {
			t.Errorf("%s: Docker health %+v at Up's return; want still starting (readiness must come from clocal's probes)", svc, in.State.Health)
		}
		if svc == "web" {
			started, _ := time.Parse(time.RFC3339Nano, in.State.StartedAt)
			if started.Before(madeReady) {
				t.Errorf("web started at %s, before db was made ready at %s", started, madeReady)
			}
		}
	}
	// ps reads clocal's verdict, not Docker's pending first probe.
	for svc, c := range env.ps(t, p.Name) {
		if c.Health != "healthy" {
			t.Errorf("ps: %s health %q, want healthy", svc, c.Health)
		}
	}

	// A second Up (nothing to do) is ready at once, probing nothing.
	since := time.Now()
	if err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: time.Minute}); err != nil {
		t.Fatalf("no-op Up: %v", err)
	}
	// Idle: nothing execs in the containers (Docker's next probe is 2 minutes away).
	time.Sleep(3 * time.Second)
	if n := execs(t, env, p.Name, since); n != 0 {
		t.Errorf("%d execs in the project's containers after the stack was ready; want none while nobody waits", n)
	}
}

// execs counts exec_create events of the project's containers since t.
func execs(t *testing.T, env *testEnv, project string, since time.Time) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, errs := env.api.Events(ctx, events.ListOptions{
		Since: since.Format(time.RFC3339Nano), Until: time.Now().Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("type", "container"), filters.Arg("label", "com.docker.compose.project="+project)),
	})
	n := 0
	for {
		select {
		case m := <-msgs:
			if strings.HasPrefix(string(m.Action), "exec_create") {
				n++
			}
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) && err.Error() != "EOF" {
				t.Logf("events: %v", err)
			}
			return n
		}
	}
}

// TestUpFailsOnClocalReadinessChecks: a service that never becomes healthy fails after the
// service file's retries of clocal's probes, not after Docker's slow ones; the error says
// what the last check printed.
func TestUpFailsOnClocalReadinessChecks(t *testing.T) {
	env := newEnv(t)
	p := env.load(t, `
services:
  bad:
    image: IMAGE
    pull_policy: never
    environment: {NAME: bad, UNHEALTHY: "1"}
    healthcheck:
      test: ["CMD", "/server", "-healthcheck"]
      interval: 2m
      retries: 3
      start_period: 10s
    labels:
      dev.clocal.readiness: interval=500ms timeout=2s retries=3 start_period=0s
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := env.e.Up(ctx, p, engine.UpOptions{Wait: true, WaitTimeout: 90 * time.Second})
	var we *engine.WaitError
	if !errors.As(err, &we) || we.Timeout != 0 {
		t.Fatalf("Up of an unhealthy service: %v; want a WaitError from the failed checks, not a timeout", err)
	}
	if msg := we.Services["bad"]; !strings.Contains(msg, "3 readiness checks failed in a row") || !strings.Contains(msg, "503") {
		t.Errorf("reason %q: want the failed checks and the last output", msg)
	}
}
