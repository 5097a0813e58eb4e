package cli

import (
	"context"
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
			root := testutil.CopyWorkspace(t)
			project := testProject(t)
			cleanupStack(t, docker, root, project)
			r := runClocal(t, 8*time.Minute, nil, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports")
			if r.Code != 0 {
				t.Fatalf("up: exit %d\n%s", r.Code, r.Err)
			}
			p := startClocal(t, nil, "-w", root, "-p", project, "watch", "kvstore", "--json")
			p.waitOutput(`"watching"`, 5*time.Minute)

			// The daemon's container events of this project from now on.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msgs, errs := docker.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
				filters.Arg("type", string(events.ContainerEventType)),
				filters.Arg("label", labels.ComposeProject+"="+project))})
			// Subscribed before the edit; the replace's first event comes after a build.sh run.
			src := filepath.Join(root, "apps", "kvstore", "replace_trigger.go")
			if err := os.WriteFile(src, []byte("package main\n\nconst replaceTrigger = 1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var seen []string
			deadline := time.After(5 * time.Minute)
		wait:
			for {
				select {
				case m := <-msgs:
					seen = append(seen, string(m.Action))
					if string(m.Action) == step {
						_ = p.cmd.Process.Signal(syscall.SIGINT)
						break wait
					}
				case err := <-errs:
					t.Fatalf("docker events: %v", err)
				case <-p.done:
					t.Fatalf("watch exited before the replace's %q (events %v)\nstdout:\n%s\nstderr:\n%s", step, seen, p.out.String(), p.err.String())
				case <-deadline:
					t.Fatalf("no %q event of the replace within 5m (events %v)\nstdout:\n%s\nstderr:\n%s", step, seen, p.out.String(), p.err.String())
				}
			}
			res := p.wait(5 * time.Minute)
			cancel()
			if res.Code != ExitInterrupted {
				t.Errorf("exit %d after SIGINT mid-replace, want 130\n%s", res.Code, res.Err)
			}
			// (unless the replace was over, ready, before the signal reached the watch)
			if !strings.Contains(res.Err, "finishing replace of kvstore") && !strings.Contains(res.Out, `"kind":"ready"`) {
				t.Errorf("stderr does not say the replace is finished first:\n%s", res.Err)
			}
			st := containerStates(t, docker, project)
			if len(st) != 1 || strings.Join(st["kvstore"], ",") != "running" {
				t.Fatalf("after SIGINT at the replace's %q: containers %v, want kvstore=[running]\nstderr:\n%s", step, st, res.Err)
			}
			waitFor(t, 2*time.Minute, "kvstore to serve after the interrupted watch", func() bool {
				return kvstoreServes(docker, project) == nil
			})
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
