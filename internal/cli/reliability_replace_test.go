package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestInterruptWatchMidReplace: Ctrl-C to `clocal watch --json` while the dev loop's
// recreate of a service is under way — signalled the moment the daemon reports a step of
// compose's recreate (the new container created; the old one killed; the old one
// removed) — ends the watch with 130 and leaves the stack running: exactly one
// container for the service, running and serving (old or new build), nothing "created"
// and never started. The first interrupt says it finishes the replace.
func TestInterruptWatchMidReplace(t *testing.T) {
	docker := testutil.RequireDocker(t)
	for _, step := range []string{"create", "kill", "destroy"} {
		t.Run(step, func(t *testing.T) {
			root, project := kvstoreStack(t, docker)
			p := startClocal(t, nil, "-w", root, "-p", project, "watch", "kvstore", "--json")
			p.waitOutput(`"watching"`, 5*time.Minute)

			interruptAt(t, docker, project, step, func() *proc {
				editKvstore(t, root, 1)
				return p
			})
			res := p.wait(5 * time.Minute)
			if res.Code != ExitInterrupted {
				t.Errorf("exit %d after SIGINT mid-replace, want 130\n%s", res.Code, res.Err)
			}
			// (unless the replace was over, ready, before the signal reached the watch)
			if !strings.Contains(res.Err, "finishing replace of kvstore") && !strings.Contains(res.Out, `"kind":"ready"`) {
				t.Errorf("stderr does not say the replace is finished first:\n%s", res.Err)
			}
			kvstoreRunning(t, docker, project, step, res)
		})
	}
}

// kvstoreServes GETs / of kvstore's published port: any HTTP answer is serving.
func kvstoreServes(docker client.APIClient, project string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, addr, err := dlAddr(ctx, docker, project, "kvstore", 7700)
	if err != nil {
		return err
	}
	resp, err := dlHTTP.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// TestInterruptUpMidRecreate (before the fix: "destroy" left no kvstore container at all,
// "kill" a stopped one): Ctrl-C to `clocal up` while it recreates a running service
// after a source edit (signalled on the daemon's event of each recreate step) leaves that
// service running — the old container or the new one — never removed with nothing started.
func TestInterruptUpMidRecreate(t *testing.T) {
	docker := testutil.RequireDocker(t)
	for _, step := range []string{"create", "kill", "destroy"} {
		t.Run(step, func(t *testing.T) {
			root, project := kvstoreStack(t, docker)
			p := interruptAt(t, docker, project, step, func() *proc {
				editKvstore(t, root, 2)
				return startClocal(t, nil, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
			})
			res := p.wait(5 * time.Minute)
			if res.Code != ExitInterrupted {
				t.Errorf("exit %d after SIGINT mid-recreate, want 130\n%s", res.Code, res.Err)
			}
			kvstoreRunning(t, docker, project, step, res)
		})
	}
}

// editKvstore writes a source file of kvstore (a new build).
func editKvstore(t *testing.T, root string, n int) {
	t.Helper()
	src := filepath.Join(root, "apps", "kvstore", "replace_trigger.go")
	if err := os.WriteFile(src, []byte(fmt.Sprintf("package main\n\nconst replaceTrigger = %d\n", n)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// interruptAt subscribes to the daemon's container events of project, then calls begin
// (which changes something and returns the clocal process that will recreate kvstore), and
// sends that process SIGINT the moment the daemon reports action step (create, kill,
// destroy: the steps of compose's recreate). The replace's first event comes after a
// build.sh run, well after the subscription.
func interruptAt(t *testing.T, docker client.APIClient, project, step string, begin func() *proc) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs, errs := docker.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", labels.ComposeProject+"="+project))})
	p := begin()
	var seen []string
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case m := <-msgs:
			seen = append(seen, string(m.Action))
			if string(m.Action) == step {
				_ = p.cmd.Process.Signal(syscall.SIGINT)
				return p
			}
		case err := <-errs:
			t.Fatalf("docker events: %v", err)
		case <-p.done:
			t.Fatalf("clocal exited before the recreate's %q (events %v)\nstdout:\n%s\nstderr:\n%s", step, seen, p.out.String(), p.err.String())
		case <-deadline:
			t.Fatalf("no %q event of the recreate within 5m (events %v)\nstdout:\n%s\nstderr:\n%s", step, seen, p.out.String(), p.err.String())
		}
	}
}

// kvstoreStack starts kvstore alone in a copy of the example workspace.
func kvstoreStack(t *testing.T, docker *client.Client) (root, project string) {
	t.Helper()
	root, project = testutil.CopyWorkspace(t), testProject(t)
	cleanupStack(t, docker, root, project)
	r := runClocal(t, 8*time.Minute, nil, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
	if r.Code != 0 {
		t.Fatalf("up: exit %d\n%s", r.Code, r.Err)
	}
	return root, project
}

// kvstoreRunning checks that the stack holds exactly one kvstore container, running, and
// that it serves (old or new build).
func kvstoreRunning(t *testing.T, docker *client.Client, project, step string, res result) {
	t.Helper()
	st := containerStates(t, docker, project)
	if len(st) != 1 || strings.Join(st["kvstore"], ",") != "running" {
		t.Fatalf("after SIGINT at the recreate's %q: containers %v, want kvstore=[running]\nstderr:\n%s", step, st, res.Err)
	}
	waitFor(t, 2*time.Minute, "kvstore to serve after the interrupt", func() bool {
		return kvstoreServes(docker, project) == nil
	})
}
