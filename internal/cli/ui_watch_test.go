package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/ui"
)

// pageStream reads a status page's server-sent events: one "event|data" string per event.
func pageStream(t *testing.T, url, token string) <-chan string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(ui.TokenHeader, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	ch := make(chan string, 1000)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		ev := ""
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "event: ") {
				ev = strings.TrimPrefix(l, "event: ")
			} else if strings.HasPrefix(l, "data: ") {
				ch <- ev + "|" + strings.TrimPrefix(l, "data: ")
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return ch
}

// pageState waits until the page's current state contains every part.
func pageState(t *testing.T, base, token string, timeout time.Duration, what string, parts ...string) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		req, _ := http.NewRequest("GET", base+"/api/state", nil)
		req.Header.Set(ui.TokenHeader, token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, p := range parts {
			if !strings.Contains(string(b), p) {
				return false
			}
		}
		return true
	})
}

// await reads events until one contains every part.
func await(t *testing.T, ch <-chan string, timeout time.Duration, what string, parts ...string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			all := true
			for _, p := range parts {
				all = all && strings.Contains(m, p)
			}
			if all {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: not within %s", what, timeout)
		}
	}
}

func post(t *testing.T, base, token, service, action string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/services/"+service+"/"+action, nil)
	req.Header.Set(ui.TokenHeader, token)
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s %s: %d", action, service, resp.StatusCode)
	}
}

// TestUpWatchUI: up --watch --ui prints the page's URL first and serves the stack as it
// comes up; stop from the page holds (the watch does not bring the service back), start
// and rebuild (through the watch's dev loop) work; when the daemon goes away (a proxy
// socket closed with its connections) the page says so and recovers by itself.
func TestUpWatchUI(t *testing.T) {
	docker := testutil.RequireDocker(t)
	proxy := newDockerProxy(t)
	root := testutil.CopyWorkspace(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	p := startClocal(t, []string{"DOCKER_HOST=" + proxy.host()}, "-w", root, "-p", project, "up", "kvstore", "--ephemeral-ports", "--ui", "--json")
	url := p.firstLine(time.Minute)
	if !pageURL.MatchString(url) {
		t.Fatalf("first line %q is not the page's URL", url)
	}
	base, token := strings.SplitN(url, "/?", 2)[0], strings.SplitN(url, "token=", 2)[1]
	events := pageStream(t, base+"/api/stream", token)
	await(t, events, 8*time.Minute, "kvstore healthy on the page", `state|`, `"name":"kvstore"`, `"health":"healthy"`, `"url":"http://127.0.0.1:`)
	p.waitOutput(`"kind":"watching"`, time.Minute)

	// Stop holds: the watch's supervisor (every 2 s) leaves a service stopped on purpose.
	post(t, base, token, "kvstore", "stop")
	await(t, events, time.Minute, "stop done", `devloop|`, `"kind":"action-done"`, `"action":"stop"`)
	pageState(t, base, token, time.Minute, "kvstore exited on the page", `"state":"exited"`, `"held":true`)
	stopped := time.Now()
	for time.Since(stopped) < 5*time.Second { // more than two supervisor rounds
		if ctrs := projectContainers(t, docker, project); len(ctrs) != 1 || ctrs[0].State != "exited" {
			t.Fatalf("after a stop from the page: %v", containerStates(t, docker, project))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if strings.Contains(p.out.String(), `"kind":"restored"`) {
		t.Fatalf("the watch brought a stopped service back:\n%s", p.out.String())
	}
	post(t, base, token, "kvstore", "start")
	await(t, events, 2*time.Minute, "start done", `devloop|`, `"kind":"action-done"`, `"action":"start"`)
	pageState(t, base, token, time.Minute, "kvstore healthy again", `"state":"running","health":"healthy"`)

	// Rebuild goes through the watch's dev loop: build.sh runs again (forced).
	post(t, base, token, "kvstore", "rebuild")
	await(t, events, 5*time.Minute, "rebuild done", `devloop|`, `"kind":"action-done"`, `"action":"rebuild"`)
	p.waitOutput(`"service":"kvstore","kind":"change"`, time.Minute)

	// A build that fails shows on the page with its last lines (the compiler's error).
	broken := filepath.Join(root, "apps", "kvstore", "broken.go")
	if err := os.WriteFile(broken, []byte("package main\n\nfunc broken() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, events, 5*time.Minute, "failed build on the page", `state|`, `"name":"kvstore"`, `"ok":false`, `broken.go`, `undefinedThing`)
	p.waitOutput(`"service":"kvstore","kind":"build-failed"`, time.Minute)

	// The daemon goes away and comes back: the page reports it, then shows the stack again.
	logs := pageStream(t, base+"/api/logs?service=kvstore", token)
	proxy.stop()
	await(t, events, time.Minute, "daemon unreachable on the page", `state|`, `"daemon":"`)
	await(t, logs, time.Minute, "log stream ends", `end|`)
	time.Sleep(3 * time.Second)
	proxy.start(t)
	for {
		m := await(t, events, 2*time.Minute, "daemon back on the page", `state|`, `"health":"healthy"`)
		if !strings.Contains(m, `"daemon":"`) {
			break
		}
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	if r := p.wait(time.Minute); r.Code != ExitInterrupted {
		t.Errorf("exit %d after Ctrl-C, want 130\nstderr:\n%s", r.Code, r.Err)
	}
}

// TestOpenBrowser: --open runs $BROWSER (else the platform's opener) with the page's URL.
func TestOpenBrowser(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "browser")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+got+".tmp && mv "+got+".tmp "+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", script)
	url := "http://127.0.0.1:1234/?token=abc"
	if err := openBrowser(url); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the browser to be run", func() bool {
		b, err := os.ReadFile(got)
		return err == nil && string(b) == url
	})
	t.Setenv("BROWSER", filepath.Join(dir, "missing"))
	if err := openBrowser(url); err == nil {
		t.Fatal("a missing browser is not reported")
	}
}

// TestUIBadInput: a non-loopback --addr, an unknown target, or no running stack to show
// are input errors (exit 2), said in one line.
func TestUIBadInput(t *testing.T) {
	root := repoRoot(t)
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ui", "--addr", "0.0.0.0:0"}, "loopback address only"},
		{[]string{"ui", "--addr", "nonsense"}, "want HOST:PORT"},
		{[]string{"ui", "no-such-target"}, "no-such-target"},
	} {
		r := runCLI(t, ctx, append([]string{"-w", root}, c.args...)...)
		if r.Code != ExitBadInput || !strings.Contains(r.Err, c.want) {
			t.Errorf("clocal %v: exit %d, stderr %q; want 2 and %q", c.args, r.Code, r.Err, c.want)
		}
	}
	t.Run("no running stack", func(t *testing.T) {
		testutil.RequireDocker(t) // the daemon says there is none
		args := []string{"-w", root, "-p", testProject(t), "ui"}
		if r := runCLI(t, ctx, args...); r.Code != ExitBadInput || !strings.Contains(r.Err, "no running stack") {
			t.Errorf("clocal %v: exit %d, stderr %q; want 2 and %q", args, r.Code, r.Err, "no running stack")
		}
	})
}
