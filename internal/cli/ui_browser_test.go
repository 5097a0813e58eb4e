package cli

// The status page (clocal ui) in a real browser: Debian's chromium, headless, driven over
// the DevTools protocol (chromedp), against a running example stack.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/testutil"
)

// requireChromium returns the browser's path; under CI=true a missing browser fails the test.
func requireChromium(t *testing.T) string {
	t.Helper()
	testutil.SkipInUnitLane(t, "a browser")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and no chromium on PATH (.ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium on PATH")
	return ""
}

// browser starts a headless chromium for the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1100), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelB()
		cancelA()
	})
	// Start the browser now, so a missing or broken one fails here with its error.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return bctx
}

var pageURL = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/\?token=[0-9a-f]{32}$`)

// firstLine waits for the first line of p's stdout.
func (p *proc) firstLine(timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if out := p.out.String(); strings.Contains(out, "\n") {
			return strings.SplitN(out, "\n", 2)[0]
		}
		select {
		case <-p.done:
			p.t.Fatalf("clocal exited (%d) before printing a line\nstderr:\n%s", p.code, p.err.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("no output within %s\nstderr:\n%s", timeout, p.err.String())
	return ""
}

// poll evaluates a JavaScript expression until it is true.
func poll(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main") ? document.querySelector("main").innerText : document.body.innerText`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, dump)
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// upRepoManager starts repo-manager's closure of the example workspace as a new test project
// and returns the workspace, the project and the URL of each service.
func upRepoManager(t *testing.T, ctx context.Context) (root, project string, urls map[string]string) {
	t.Helper()
	root = repoRoot(t)
	project = testProject(t)
	cleanupProject(t, project)
	up := mustRun(t, ctx, "-w", root, "-p", project, "up", "repo-manager", "--ephemeral-ports")
	urls = map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(\S+)\s+(http://127\.0\.0\.1:\d+)$`).FindAllStringSubmatch(up.Out, -1) {
		urls[m[1]] = m[2]
	}
	if len(urls) != 3 {
		t.Fatalf("up printed %v", up.Out)
	}
	return root, project, urls
}

// startUIProcess runs clocal with args (a command serving the page) and returns the page's URL
// (its first line of output) and the URL without the token.
func startUIProcess(t *testing.T, env []string, args ...string) (url, base string) {
	t.Helper()
	p := startClocal(t, env, args...)
	url = p.firstLine(30 * time.Second)
	if !pageURL.MatchString(url) {
		t.Fatalf("first line %q is not the page's URL", url)
	}
	return url, strings.SplitN(url, "/?", 2)[0]
}

// get requests url and returns its status.
func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUIInBrowser(t *testing.T) {
	docker := testutil.RequireDocker(t)
	chromium := requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, project, urls := upRepoManager(t, ctx)
	url, base := startUIProcess(t, nil, "-w", root, "-p", project, "ui")

	// Without the token every request is refused: the page, its assets, its streams, actions.
	for _, path := range []string{"/", "/assets/app.js", "/api/stream", "/api/logs", "/api/state"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d, want 401", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(base+"/api/services/kvstore/restart", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST restart without token: %d, want 401", resp.StatusCode)
	}

	bctx := browser(t, chromium)
	// The browser without the token (a fresh profile: no cookie) is refused too.
	fresh, cancelFresh := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancelFresh()
	if resp, err := chromedp.RunResponse(fresh, chromedp.Navigate(base+"/")); err != nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("the page without the token: %v %+v", err, resp)
	}
	cancelFresh()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	// Every service of the stack, healthy, with its address as a link.
	for svc, u := range urls {
		poll(t, bctx, svc+" healthy with its address", fmt.Sprintf(
			`(() => { const r = document.querySelector('#services tr[data-service=%q]');
			  return !!r && r.querySelector('.state-text').textContent === 'running' && r.querySelector('.health').textContent === 'healthy'
			    && [...r.querySelectorAll('.addr a')].some(a => a.href.replace(/\/$/, '') === %q && a.target === '_blank'); })()`, svc, u), time.Minute)
	}
	// The graph is drawn, each edge with its reason on hover.
	poll(t, bctx, "graph", `document.querySelectorAll('#graph .node').length === 3 &&
		[...document.querySelectorAll('#graph .edge title')].some(t => t.textContent.startsWith('repo-manager → kvstore: inferred — kv-1:7700 = job kvstore-1 (') && t.textContent.includes('services/repo-manager/repo-manager-1.job:11:3'))`, 10*time.Second)
	// Hovering an edge shows its reason under the graph.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector('#graph .edge[data-to="kvstore"]').dispatchEvent(new MouseEvent('mouseenter'))`)); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "edge reason on hover", `document.querySelector('#edge-info').textContent.includes('repo-manager → kvstore: inferred') && document.querySelector('#graph .edge[data-to="kvstore"]').classList.contains('hover')`, 10*time.Second)
	// The logs of the three services, multiplexed, one colour each.
	poll(t, bctx, "multiplexed logs", `(() => { const c = {};
		for (const s of document.querySelectorAll('#logs .svc')) c[s.textContent.split(' ')[0]] = s.className;
		return Object.keys(c).length === 3 && new Set(Object.values(c)).size === 3; })()`, 30*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.__noReload = 1`)); err != nil {
		t.Fatal(err)
	}

	// A line the service writes shows without a reload.
	marker := "/ui-test-" + project
	get(t, urls["kvstore"]+marker)
	poll(t, bctx, "log line on the page", fmt.Sprintf(`window.__noReload === 1 && document.querySelector('#logs').textContent.includes('GET %s')`, marker), 30*time.Second)
	// Clicking a service shows only its logs; clicking it again shows every service's.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="kvstore"] .name`))); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "kvstore's logs only", `document.querySelectorAll('#logs .ln').length > 0 && [...document.querySelectorAll('#logs .svc')].every(s => s.textContent.startsWith('kvstore '))
		&& document.querySelector('#log-status').textContent === 'kvstore'`, 30*time.Second)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="kvstore"] .name`))); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "every service's logs again", `document.querySelector('#log-status').textContent === 'all services' && new Set([...document.querySelectorAll('#logs .svc')].map(s => s.textContent)).size === 3`, 30*time.Second)
	// Search filters the lines.
	if err := chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#log-search`), "ui-test-"+project)); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "search", `[...document.querySelectorAll('#logs .ln')].every(l => l.textContent.includes('ui-test-')) && document.querySelectorAll('#logs mark').length >= 1`, 10*time.Second)

	// Clicking restart restarts the container: a new start time, on the page and in Docker.
	before := inspectStarted(t, docker, project+"-kvstore-1")
	pageBefore := evalString(t, bctx, `document.querySelector('#services tr[data-service="kvstore"] .started-at').dataset.started`)
	if pageBefore == "" {
		t.Fatal("no start time on the page")
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="kvstore"] button[data-action="restart"]`))); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "new start time after restart", fmt.Sprintf(`(() => { const r = document.querySelector('#services tr[data-service="kvstore"]');
		return window.__noReload === 1 && r.querySelector('.started-at').dataset.started !== %q && r.querySelector('.health') && r.querySelector('.health').textContent === 'healthy'; })()`, pageBefore), 90*time.Second)
	poll(t, bctx, "restart reported", `[...document.querySelectorAll('#events li')].some(l => l.textContent.includes('kvstore: restart done'))`, 30*time.Second)
	after := inspectStarted(t, docker, project+"-kvstore-1")
	if !after.After(before) {
		t.Fatalf("container start time %s not after %s", after, before)
	}
	pageAfter := evalString(t, bctx, `document.querySelector('#services tr[data-service="kvstore"] .started-at').dataset.started`)
	if pa, err := time.Parse(time.RFC3339Nano, pageAfter); err != nil || !pa.Equal(after) {
		t.Fatalf("page says started %s, Docker %s", pageAfter, after)
	}

	// "open" opens the service's address in a new tab.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="markdown-renderer"] button[data-action="open"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a tab with markdown-renderer's address", func() bool {
		targets, err := chromedp.Targets(bctx)
		if err != nil {
			return false
		}
		for _, tg := range targets {
			if tg.Type == "page" && strings.TrimSuffix(tg.URL, "/") == urls["markdown-renderer"] {
				return true
			}
		}
		return false
	})

	if shot := os.Getenv("CLOCAL_UI_SCREENSHOT"); shot != "" {
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector('#log-search').value = ''; document.querySelector('#log-search').dispatchEvent(new Event('input'))`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func inspectStarted(t *testing.T, docker *client.Client, name string) time.Time {
	t.Helper()
	in, err := docker.ContainerInspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	started, err := time.Parse(time.RFC3339Nano, in.State.StartedAt)
	if err != nil {
		t.Fatal(err)
	}
	return started
}

// TestUIInBrowserDaemonRestart: the page of `clocal ui` while the Docker daemon goes away
// and comes back (a proxy socket closed with all its connections, then opened again): the
// page says the daemon is unreachable, then recovers by itself without a reload; logs
// flow again and restart works through the new connection. A password a service logs is
// masked on the page.
func TestUIInBrowserDaemonRestart(t *testing.T) {
	docker := testutil.RequireDocker(t)
	chromium := requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, project, urls := upRepoManager(t, ctx)
	proxy := newDockerProxy(t)
	url, _ := startUIProcess(t, []string{"DOCKER_HOST=" + proxy.host()}, "-w", root, "-p", project, "ui")
	bctx := browser(t, chromium)
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	healthy := func(what string) {
		t.Helper()
		poll(t, bctx, what, `document.body.dataset.daemon === 'up' && document.querySelector('#banner').hidden &&
			[...document.querySelectorAll('#services tbody tr')].length === 3 &&
			[...document.querySelectorAll('#services tbody tr')].every(r => r.querySelector('.state-text').textContent === 'running' && r.querySelector('.health') && r.querySelector('.health').textContent === 'healthy')`, time.Minute)
	}
	healthy("three healthy services")
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.__noReload = 1`)); err != nil {
		t.Fatal(err)
	}

	// A password in a line kvstore logs: the line shows, the password does not.
	secret := "Pw-" + project
	get(t, urls["kvstore"]+"/ui-secret-"+project+"/db_password="+secret)
	poll(t, bctx, "the logged line, masked", fmt.Sprintf(`[...document.querySelectorAll('#logs .ln')].some(l => l.textContent.includes('ui-secret-%s') && l.textContent.includes('db_password=********'))`, project), 30*time.Second)
	if html := evalString(t, bctx, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Fatalf("the page shows the password %q", secret)
	}

	// The daemon goes away: the page says so, and keeps the services it knew.
	proxy.stop()
	poll(t, bctx, "daemon unreachable", `window.__noReload === 1 && document.body.dataset.daemon === 'down' && !document.querySelector('#banner').hidden &&
		document.querySelector('#banner').textContent.startsWith('Docker daemon unreachable') && document.querySelectorAll('#services tbody tr').length === 3`, time.Minute)
	// ... and comes back: the page recovers by itself.
	proxy.start(t)
	healthy("recovered after the daemon came back")
	if evalString(t, bctx, `String(window.__noReload)`) != "1" {
		t.Fatal("the page was reloaded")
	}

	// Logs flow again: a new line shows without a reload.
	marker := "/ui-after-" + project
	get(t, urls["kvstore"]+marker)
	poll(t, bctx, "a log line after the daemon came back", fmt.Sprintf(`window.__noReload === 1 && document.querySelector('#logs').textContent.includes('GET %s')`, marker), time.Minute)

	// Restart goes through the new connection: a new start time.
	before := inspectStarted(t, docker, project+"-kvstore-1")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="kvstore"] button[data-action="restart"]`))); err != nil {
		t.Fatal(err)
	}
	poll(t, bctx, "restart done after the daemon came back", `[...document.querySelectorAll('#events li')].some(l => l.textContent.includes('kvstore: restart done'))`, 90*time.Second)
	if after := inspectStarted(t, docker, project+"-kvstore-1"); !after.After(before) {
		t.Fatalf("container start time %s not after %s", after, before)
	}
	if html := evalString(t, bctx, `document.documentElement.outerHTML`); strings.Contains(html, secret) {
		t.Fatalf("the page shows the password %q", secret)
	}
}
