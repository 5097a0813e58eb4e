package stacktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/pkg/stacktest"
)

// A test suite starts the trimmed stack it needs with one call; the teardown is registered
// with t.Cleanup. (This example is compiled, not run: it needs the *testing.T of a test.)
func ExampleStartStack() {
	testRepoManager := func(t *testing.T) {
		s := stacktest.StartStack(t, "repo-manager") // repo-manager, kvstore, markdown-renderer
		resp, err := http.Get(s.URL("repo-manager") + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %s", resp.Status)
		}
		t.Logf("project %s, kvstore at %s", s.Project, s.Services["kvstore"].Addr)
	}
	_ = testRepoManager
}

// labelled counts what carries the project's compose label.
func labelled(t *testing.T, docker client.APIClient, project string) (ctrs []container.Summary, nets, vols int) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project))
	ctrs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nl, err := docker.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	vl, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	return ctrs, len(nl), len(vl.Volumes)
}

// TestStartStack starts two stacks of the same target at once (the workspace found from the
// working directory, as in a company test suite), checks they are separate, healthy,
// labelled with this process as owner, and that t.Cleanup leaves nothing of either.
func TestStartStack(t *testing.T) {
	docker := testutil.RequireDocker(t)
	host, _ := os.Hostname()
	var mu sync.Mutex
	var projects []string
	t.Run("two stacks", func(t *testing.T) {
		// Two parallel subtests: StartStack reports with t.Fatalf, which belongs on the
		// test's own goroutine.
		stacks := make([]*stacktest.Stack, 2)
		for i := range stacks {
			t.Run("start", func(t *testing.T) {
				t.Parallel()
				s := stacktest.StartStack(t, "kvstore", stacktest.WithTimeout(8*time.Minute))
				mu.Lock()
				projects = append(projects, s.Project)
				stacks[i] = s
				mu.Unlock()
				check(t, docker, s, host)
			})
		}
	})
	if len(projects) != 2 || projects[0] == projects[1] {
		t.Fatalf("projects %v, want two distinct", projects)
	}
	for _, p := range projects {
		if ctrs, nets, vols := labelled(t, docker, p); len(ctrs)+nets+vols > 0 {
			t.Errorf("after t.Cleanup %s still has %d containers, %d networks, %d volumes", p, len(ctrs), nets, vols)
		}
	}
}

func check(t *testing.T, docker client.APIClient, s *stacktest.Stack, host string) {
	t.Helper()
	if len(s.Services) != 1 {
		t.Errorf("services %v, want kvstore only", s.Services)
	}
	kv := s.Services["kvstore"]
	if kv.Ports[7700] == "" || kv.Ports[7700] != kv.Addr {
		t.Errorf("kvstore ports %v addr %q", kv.Ports, kv.Addr)
	}
	if !strings.HasPrefix(kv.Addr, "127.0.0.1:") || kv.Addr == "127.0.0.1:7700" {
		t.Errorf("kvstore published on %s: want a daemon-chosen port on 127.0.0.1", kv.Addr)
	}
	resp, err := http.Get(s.URL("kvstore") + "/")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["service"] != "kvstore" {
		t.Errorf("GET / = %s %v", resp.Status, body)
	}
	ctrs, nets, _ := labelled(t, docker, s.Project)
	if len(ctrs) != 1 || nets != 1 {
		t.Errorf("%s: %d containers, %d networks", s.Project, len(ctrs), nets)
	}
	for _, c := range ctrs {
		if c.Labels[labels.OwnerPID] != strconv.Itoa(os.Getpid()) || c.Labels[labels.OwnerHost] != host ||
			c.Labels[labels.OwnerStart] != stack.ProcessStart(os.Getpid()) {
			t.Errorf("container %v owner labels %q@%q, want this process %d@%s", c.Names, c.Labels[labels.OwnerPID], c.Labels[labels.OwnerHost], os.Getpid(), host)
		}
	}
}

// TestStartStackOnHosts: one suite, two Docker hosts: a stack on this machine's daemon and
// one on a second host over ssh (WithHost). Each runs only where it was asked to, both
// answer at the addresses the Stack gives, and the cleanup leaves nothing on either and no
// ssh process.
func TestStartStackOnHosts(t *testing.T) {
	docker := testutil.RequireDocker(t)
	h := testutil.StartRemoteHost(t)
	t.Setenv("PATH", h.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var local, remote *stacktest.Stack
	t.Run("stacks", func(t *testing.T) {
		local = stacktest.StartStack(t, "kvstore", stacktest.WithTimeout(8*time.Minute))
		remote = stacktest.StartStack(t, "kvstore", stacktest.WithTimeout(8*time.Minute), stacktest.WithHost(h.URL))
		if remote.Host != h.URL || local.Host == h.URL {
			t.Fatalf("hosts: local %q, remote %q", local.Host, remote.Host)
		}
		for _, s := range []*stacktest.Stack{local, remote} {
			resp, err := http.Get(s.URL("kvstore") + "/")
			if err != nil {
				t.Fatalf("%s on %s: %v", s.Project, s.Host, err)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if body["service"] != "kvstore" {
				t.Errorf("%s on %s: GET / = %v", s.Project, s.Host, body)
			}
		}
		if c, _, _ := labelled(t, docker, remote.Project); len(c) > 0 {
			t.Errorf("the remote stack has %d containers on this machine's daemon", len(c))
		}
		if c, _, _ := labelled(t, h.Client, remote.Project); len(c) != 1 {
			t.Errorf("the remote stack has %d containers on the remote host, want 1", len(c))
		}
		if c, _, _ := labelled(t, h.Client, local.Project); len(c) > 0 {
			t.Errorf("the local stack has %d containers on the remote host", len(c))
		}
	})
	for _, c := range []struct {
		docker client.APIClient
		s      *stacktest.Stack
	}{{docker, local}, {h.Client, remote}} {
		if c.s == nil {
			continue
		}
		if ctrs, nets, vols := labelled(t, c.docker, c.s.Project); len(ctrs)+nets+vols > 0 {
			t.Errorf("after t.Cleanup %s on %s still has %d containers, %d networks, %d volumes", c.s.Project, c.s.Host, len(ctrs), nets, vols)
		}
	}
	if ps := h.SSHProcesses(); len(ps) > 0 {
		t.Errorf("ssh processes left after the cleanup: %v", ps)
	}
}

// TestSharedHostCallsOverLocalhost: app-push and email-sender run on one production host
// (notify-1) and app-push reaches email-sender as localhost:8481, as in production. On
// the local stack they share one network namespace: a push for a user without a device
// falls back to email through localhost, and the mail is in email-sender's outbox.
func TestSharedHostCallsOverLocalhost(t *testing.T) {
	testutil.RequireDocker(t)
	s := stacktest.StartStack(t, "notify", stacktest.WithTimeout(8*time.Minute))
	c := &http.Client{Timeout: 10 * time.Second}
	user := "nodevice-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	resp, err := c.Post(s.URL("app-push")+"/push", "application/json",
		strings.NewReader(`{"user": "`+user+`", "message": "build failed", "email": "dev@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	var pushed struct{ Via, ID, Error string }
	_ = json.NewDecoder(resp.Body).Decode(&pushed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || pushed.Via != "email" || pushed.ID == "" {
		t.Fatalf("POST /push = %s %+v: app-push did not reach email-sender over localhost:8481", resp.Status, pushed)
	}
	resp, err = c.Get(s.URL("email-sender") + "/outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var outbox struct {
		Messages []struct{ ID, To, Body string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&outbox); err != nil {
		t.Fatal(err)
	}
	for _, m := range outbox.Messages {
		if m.ID == pushed.ID && m.To == "dev@example.com" && m.Body == "build failed" {
			return
		}
	}
	t.Fatalf("mail %s not in email-sender's outbox: %+v", pushed.ID, outbox.Messages)
}
