package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// fakeSource is a Source whose snapshot, events and logs the test drives.
type fakeSource struct {
	mu      sync.Mutex
	snap    Snapshot
	err     error
	changed func()
	event   func(devloop.Event)
	watch   chan struct{} // closed when Watch runs
	acts    []string
	actErr  error
	actGate chan struct{} // Act waits for it when set
	logs    chan [3]string
	logErr  error
}

func newFake() *fakeSource {
	return &fakeSource{watch: make(chan struct{}), logs: make(chan [3]string, 100), snap: Snapshot{
		Project: "p1", Targets: []string{"web"}, Up: true,
		Services: []Service{
			{Name: "web", Kind: "service", State: "running", Health: "healthy", Built: true, Image: "clocal/web:abc",
				Addresses: []Address{{Port: 80, URL: "http://127.0.0.1:4000"}}},
			{Name: "db", Kind: "service", State: "running", Health: "starting", Image: "reg.example/u:hunter2@db:1",
				Build: &Build{OK: false, Error: "exit 1", Tail: []string{"DB_PASSWORD=hunter2 rejected"}}},
		},
		Graph: &workspace.Graph{Nodes: []workspace.GraphNode{{Name: "db"}, {Name: "web", Requested: true}},
			Edges: []workspace.Edge{{From: "web", To: "db", Kind: workspace.Inferred, Source: "web.job:3:5 (env db_addr=db-1:5432)"}}},
	}}
}

func (f *fakeSource) set(fn func(*Snapshot)) {
	f.mu.Lock()
	fn(&f.snap)
	changed := f.changed
	f.mu.Unlock()
	changed()
}

func (f *fakeSource) Snapshot(context.Context) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Services = append([]Service(nil), f.snap.Services...)
	for i := range s.Services {
		if b := s.Services[i].Build; b != nil {
			c := *b
			c.Tail = append([]string(nil), b.Tail...)
			s.Services[i].Build = &c
		}
	}
	return s, f.err
}

func (f *fakeSource) Watch(ctx context.Context, changed func(), event func(devloop.Event)) {
	f.mu.Lock()
	f.changed, f.event = changed, event
	f.mu.Unlock()
	close(f.watch)
	<-ctx.Done()
}

func (f *fakeSource) Logs(ctx context.Context, services []string, tail string, sink engine.LogSink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-f.logs:
			if l[0] == "" {
				return f.logErr
			}
			if len(services) == 0 || contains(services, l[0]) {
				sink.Log(l[0], l[0]+"-1", l[1], l[2] == "stderr")
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (f *fakeSource) Act(ctx context.Context, action, service string) error {
	f.mu.Lock()
	f.acts = append(f.acts, action+" "+service)
	gate, err := f.actGate, f.actErr
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeSource) Record(e devloop.Event) {
	<-f.watch
	f.mu.Lock()
	ev := f.event
	f.mu.Unlock()
	ev(e)
}

// start serves a page for src on a free loopback port.
func start(t *testing.T, src Source) (*Server, string) {
	t.Helper()
	srv := New(src, Options{Debounce: 10 * time.Millisecond})
	ln, err := Listen("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, "http://" + ln.Addr().String()
}

func do(t *testing.T, method, u string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestURLAndListen(t *testing.T) {
	srv := New(newFake(), Options{})
	ln, err := Listen("")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, err := url.Parse(srv.URL(ln))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || !strings.HasPrefix(u.Host, "127.0.0.1:") || u.Path != "/" || u.Query().Get("token") != srv.Token() || len(srv.Token()) != 32 {
		t.Fatalf("URL = %s", u)
	}
	if New(newFake(), Options{}).Token() == srv.Token() {
		t.Fatal("two servers share a token")
	}
	for _, bad := range []string{"0.0.0.0:0", "192.168.1.5:7070", ":7070", "example.com:80", "nonsense"} {
		if ln, err := Listen(bad); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", bad)
		}
	}
	ln2, err := Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if h, _, _ := net.SplitHostPort(ln2.Addr().String()); h != "127.0.0.1" {
		t.Fatalf("localhost listens on %s", ln2.Addr())
	}
}

func TestTokenRequired(t *testing.T) {
	srv, base := start(t, newFake())
	tok := srv.Token()
	paths := []string{"/", "/assets/app.js", "/assets/app.css", "/api/state", "/api/stream", "/api/logs?service=web"}
	for _, p := range paths {
		if code, _ := do(t, "GET", base+p, nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d, want 401", p, code)
		}
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		if code, _ := do(t, "GET", base+p+sep+"token=wrong"+tok[5:], nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", p, code)
		}
	}
	// The first visit with the token sets the cookie the page's other requests carry.
	resp, err := http.Get(base + "/?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `content="`+tok+`"`) || !strings.Contains(string(body), "/assets/app.js") {
		t.Fatalf("index: %d\n%s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		cookie = c
	}
	if cookie == nil || cookie.Value != tok || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v", cookie)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers: %v", resp.Header)
	}
	code, js := do(t, "GET", base+"/assets/app.js", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
	if code != 200 || !strings.Contains(js, "EventSource") {
		t.Fatalf("asset with cookie: %d", code)
	}
	if code, _ := do(t, "GET", base+"/api/state", map[string]string{TokenHeader: tok}); code != 200 {
		t.Fatalf("state with header: %d", code)
	}
	// DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own Host.
	if code, _ := do(t, "GET", base+"/?token="+tok, map[string]string{"Host": "evil.example:" + strings.Split(base, ":")[2]}); code != http.StatusForbidden {
		t.Fatalf("foreign Host: %d, want 403", code)
	}
}

func TestActionsNeedHeaderAndSameOrigin(t *testing.T) {
	f := newFake()
	srv, base := start(t, f)
	tok := srv.Token()
	waitState(t, base, tok)
	u := base + "/api/services/web/restart"
	cases := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no token", nil, 401},
		{"cookie only (what a cross-site form sends)", map[string]string{"Cookie": "clocal_ui_" + strings.Split(base, ":")[2] + "=" + tok}, 401},
		{"token in query only", nil, 401},
		{"cross-site origin", map[string]string{TokenHeader: tok, "Origin": "http://evil.example"}, 403},
		{"cross-site fetch", map[string]string{TokenHeader: tok, "Sec-Fetch-Site": "cross-site"}, 403},
	}
	for _, c := range cases {
		target := u
		if c.name == "token in query only" {
			target += "?token=" + tok
		}
		if code, body := do(t, "POST", target, c.hdr); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	if code, _ := do(t, "GET", u+"?token="+tok, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on an action: %d, want 405", code)
	}
	f.mu.Lock()
	acts := len(f.acts)
	f.mu.Unlock()
	if acts != 0 {
		t.Fatalf("refused requests acted: %v", f.acts)
	}
	ok := map[string]string{TokenHeader: tok, "Origin": base, "Sec-Fetch-Site": "same-origin"}
	if code, body := do(t, "POST", base+"/api/services/nope/restart", ok); code != 404 {
		t.Errorf("unknown service: %d %s", code, body)
	}
	if code, body := do(t, "POST", base+"/api/services/web/explode", ok); code != 404 {
		t.Errorf("unknown action: %d %s", code, body)
	}
}

// stream reads server-sent events.
type stream struct {
	t    *testing.T
	resp *http.Response
	ch   chan [2]string
}

func openStream(t *testing.T, u string, hdr map[string]string) *stream {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: t, resp: resp, ch: make(chan [2]string, 100)}
	go func() {
		defer close(s.ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				s.ch <- [2]string{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event of kind (skipping others).
func (s *stream) next(kind string) string {
	s.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-s.ch:
			if !ok {
				s.t.Fatalf("stream ended waiting for %s", kind)
			}
			if m[0] == kind {
				return m[1]
			}
		case <-timeout:
			s.t.Fatalf("no %s event", kind)
		}
	}
}

func waitState(t *testing.T, base, tok string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		code, body := do(t, "GET", base+"/api/state", map[string]string{TokenHeader: tok})
		if code == 200 && strings.Contains(body, `"services"`) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no state")
}

func TestStreamSendsStateGraphEventsLive(t *testing.T) {
	f := newFake()
	srv, base := start(t, f)
	tok := srv.Token()
	<-f.watch
	f.Record(devloop.Event{Kind: "ready", Service: "web", Total: devloop.Millis(time.Second)})
	waitState(t, base, tok)
	s := openStream(t, base+"/api/stream", map[string]string{TokenHeader: tok})

	var graph string
	if err := json.Unmarshal([]byte(s.next("graph")), &graph); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(graph, `data-service="web"`) || !strings.Contains(graph, "web → db: inferred") || !strings.Contains(graph, "<title>") {
		t.Fatalf("graph:\n%s", graph)
	}
	var st struct {
		Project  string
		Services []Service
	}
	if err := json.Unmarshal([]byte(s.next("state")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Project != "p1" || len(st.Services) != 2 || st.Services[0].Addresses[0].URL != "http://127.0.0.1:4000" {
		t.Fatalf("state: %+v", st)
	}
	// Secrets in what the page shows are masked.
	db := st.Services[1]
	if strings.Contains(db.Image, "hunter2") || strings.Contains(strings.Join(db.Build.Tail, "\n"), "hunter2") {
		t.Fatalf("secret shown: %+v %+v", db.Image, db.Build)
	}
	if hist := s.next("history"); !strings.Contains(hist, `"kind":"ready"`) {
		t.Fatalf("history: %s", hist)
	}

	// A change reaches the open stream without asking.
	f.set(func(s *Snapshot) { s.Services[1].Health = "healthy" })
	for {
		data := s.next("state")
		if strings.Contains(data, `"name":"db","kind":"service","state":"running","health":"healthy"`) {
			break
		}
	}
	f.Record(devloop.Event{Kind: "build-failed", Service: "web", Error: "exit 1\nAPI_TOKEN=abc123"})
	ev := s.next("devloop")
	if !strings.Contains(ev, "build-failed") || strings.Contains(ev, "abc123") {
		t.Fatalf("event: %s", ev)
	}
	// The daemon going away is shown, and coming back too.
	f.set(func(s *Snapshot) { s.Daemon = "cannot reach the Docker daemon" })
	for !strings.Contains(s.next("state"), `"daemon":"cannot reach`) {
	}
	f.set(func(s *Snapshot) { s.Daemon = "" })
	// Another failure to read the stack is shown as such.
	f.mu.Lock()
	f.err = errors.New("services/web/service.yaml:3: unknown key \"pots\"")
	f.mu.Unlock()
	f.set(func(*Snapshot) {})
	for !strings.Contains(s.next("state"), `"error":"services/web/service.yaml:3`) {
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	f.set(func(*Snapshot) {})
	for m := s.next("state"); strings.Contains(m, `"daemon":"`) || strings.Contains(m, `"error":"services/`); m = s.next("state") {
	}
}

func TestActionRunsAndReports(t *testing.T) {
	f := newFake()
	f.actGate = make(chan struct{})
	srv, base := start(t, f)
	tok := srv.Token()
	waitState(t, base, tok)
	s := openStream(t, base+"/api/stream", map[string]string{TokenHeader: tok})
	hdr := map[string]string{TokenHeader: tok, "Origin": base, "Sec-Fetch-Site": "same-origin"}
	code, body := do(t, "POST", base+"/api/services/web/restart", hdr)
	if code != http.StatusAccepted {
		t.Fatalf("restart: %d %s", code, body)
	}
	if ev := s.next("devloop"); !strings.Contains(ev, `"kind":"action"`) || !strings.Contains(ev, `"action":"restart"`) {
		t.Fatalf("event: %s", ev)
	}
	for !strings.Contains(s.next("state"), `"acting":["web"]`) {
	}
	if code, _ := do(t, "POST", base+"/api/services/web/stop", hdr); code != http.StatusConflict {
		t.Fatalf("second action while one runs: %d, want 409", code)
	}
	close(f.actGate)
	if ev := s.next("devloop"); !strings.Contains(ev, `"kind":"action-done"`) {
		t.Fatalf("event: %s", ev)
	}
	f.mu.Lock()
	f.actErr = errors.New("services not ready: web: unhealthy")
	f.mu.Unlock()
	if code, _ := do(t, "POST", base+"/api/services/web/rebuild", hdr); code != http.StatusAccepted {
		t.Fatalf("rebuild: %d", code)
	}
	for {
		ev := s.next("devloop")
		if strings.Contains(ev, `"kind":"action-failed"`) {
			if !strings.Contains(ev, "unhealthy") {
				t.Fatalf("event: %s", ev)
			}
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.acts, ",") != "restart web,rebuild web" {
		t.Fatalf("acts = %v", f.acts)
	}
}

func TestLogsStreamMultiplexedAndRedacted(t *testing.T) {
	f := newFake()
	srv, base := start(t, f)
	tok := srv.Token()
	s := openStream(t, base+"/api/logs?service=web&service=db&tail=10", map[string]string{TokenHeader: tok})
	f.logs <- [3]string{"web", "GET /x", ""}
	f.logs <- [3]string{"db", "password=hunter2 accepted", "stderr"}
	f.logs <- [3]string{"other", "not asked for", ""}
	var got []logLine
	for len(got) < 2 {
		var batch []logLine
		if err := json.Unmarshal([]byte(s.next("logs")), &batch); err != nil {
			t.Fatal(err)
		}
		got = append(got, batch...)
	}
	if got[0] != (logLine{Service: "web", Line: "GET /x"}) || got[1].Service != "db" || !got[1].Stderr || strings.Contains(got[1].Line, "hunter2") {
		t.Fatalf("lines: %+v", got)
	}
	// The engine's stream ending (daemon restart) is said, so the page reconnects.
	f.logErr = errors.New("logs: cannot reach the Docker daemon")
	f.logs <- [3]string{"", "", ""}
	if end := s.next("end"); !strings.Contains(end, "cannot reach") {
		t.Fatalf("end: %s", end)
	}
	if code, _ := do(t, "GET", base+"/api/logs?tail=lots", map[string]string{TokenHeader: tok}); code != 400 {
		t.Fatalf("bad tail: %d", code)
	}
}

// TestTrimmerPolicy: the executable is released only when its resident size grew by more
// than the slack since the last release, and an unknown size releases nothing.
func TestTrimmerPolicy(t *testing.T) {
	resident, releases := int64(10<<20), 0
	tr := &trimmer{
		resident: func() int64 { return resident },
		release:  func() int64 { releases++; resident = 8 << 20; return 90 << 20 },
		slack:    2 << 20,
	}
	tr.reset()
	for _, step := range []struct {
		resident int64
		want     bool
	}{
		{10 << 20, false},     // nothing came back
		{12 << 20, false},     // exactly the slack
		{12<<20 + 4096, true}, // more than the slack: released (8 MB after)
		{9 << 20, false},      // within the slack of the new base
		{-1, false},           // unknown
		{11<<20 + 4096, true}, // 3 MB over the base of 8 MB
	} {
		resident = step.resident
		if got := tr.check(); got != step.want {
			t.Fatalf("resident %d kB, base %d kB: released %v, want %v", step.resident>>10, tr.base>>10, got, step.want)
		}
	}
	if releases != 2 {
		t.Fatalf("%d releases, want 2", releases)
	}
}
