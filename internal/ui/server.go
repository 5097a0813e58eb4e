package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/redact"
)

//go:embed assets
var assets embed.FS

// TokenHeader carries the token on the page's own requests (actions must use it: a cookie
// alone is what a cross-site form would send).
const TokenHeader = "X-Clocal-Token"

// historySize is how many dev loop events a newly opened page gets.
const historySize = 200

// Options configure a Server.
type Options struct {
	// Token is the secret every request must carry ("" = a random one).
	Token string
	// Debounce groups change notifications before a new snapshot is taken (default 150ms).
	Debounce time.Duration
	// Resync, when set, takes a snapshot this often even without notifications. It is off
	// by default: the Source's Watch is how updates arrive (the daemon's container events,
	// resubscribed with a full snapshot after the daemon went away, and the stack's
	// folder), and an idle page that took snapshots anyway would touch most of clocal's
	// code every time, keeping megabytes of the executable resident for nothing (issue 14:
	// under 30 MB idle).
	Resync time.Duration
	// ActionTimeout bounds one action (default 10 minutes).
	ActionTimeout time.Duration
	// ReleaseMemory: the process serves only the page (clocal ui), so a few seconds after
	// the first snapshot it gives back the memory start-up used (ReleaseStartupMemory),
	// and from then on the executable's pages later snapshots touched (keepLight).
	ReleaseMemory bool
}

// Server is the status page of one stack.
type Server struct {
	src   Source
	token string
	opts  Options

	mu       sync.Mutex
	snap     []byte // last snapshot, JSON
	graphSVG []byte // last graph, JSON string of the SVG
	graphKey string
	history  [][]byte // last dev loop events, JSON
	clients  map[chan message]struct{}
	acting   map[string]bool // service → an action runs
	names    map[string]bool // services of the last snapshot
	base     context.Context

	changed chan struct{}
	addr    string // host:port the server listens on (for the Host check)
}

type message struct {
	event string
	data  []byte
}

// New returns a server for src. Call Serve to start it.
func New(src Source, o Options) *Server {
	if o.Token == "" {
		o.Token = NewToken()
	}
	if o.Debounce <= 0 {
		o.Debounce = 150 * time.Millisecond
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 10 * time.Minute
	}
	return &Server{src: src, token: o.Token, opts: o, clients: map[chan message]struct{}{},
		acting: map[string]bool{}, changed: make(chan struct{}, 1), base: context.Background()}
}

// NewToken returns 32 random hex digits.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Token returns the token requests must carry.
func (s *Server) Token() string { return s.token }

// Listen opens addr ("" = 127.0.0.1 on a free port). Only loopback addresses are accepted:
// the page controls containers.
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w (want HOST:PORT, e.g. 127.0.0.1:7070)", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
		addr = net.JoinHostPort(host, addr[strings.LastIndex(addr, ":")+1:])
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--addr %q: the status page listens on a loopback address only (127.0.0.1 or ::1)", addr)
	}
	return net.Listen("tcp", addr)
}

// URL is the address to open: http://HOST:PORT/?token=TOKEN.
func (s *Server) URL(ln net.Listener) string {
	return "http://" + ln.Addr().String() + "/?token=" + s.token
}

// Serve serves the page on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.base = ctx
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.src.Watch(ctx, s.notify, s.event)
	go s.refreshLoop(ctx)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// notify asks for a new snapshot (coalesced).
func (s *Server) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// event broadcasts one dev loop event, redacted, and keeps it for pages opened later.
func (s *Server) event(e devloop.Event) {
	e.Error = redact.Text(e.Error)
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.history = append(s.history, data)
	if len(s.history) > historySize {
		s.history = slices.Clone(s.history[len(s.history)-historySize:])
	}
	s.mu.Unlock()
	s.broadcast(message{"devloop", data})
	// Builds, replaces and restores change what the page shows.
	s.notify()
}

// refreshLoop takes a snapshot after each (debounced) notification (and every Resync, if set).
func (s *Server) refreshLoop(ctx context.Context) {
	s.refresh(ctx)
	var refreshed chan struct{} // told after each snapshot: keepLight trims soon after
	if s.opts.ReleaseMemory {
		refreshed = make(chan struct{}, 1)
		go keepLight(ctx, refreshed)
	}
	var resync <-chan time.Time // nil: never
	if s.opts.Resync > 0 {
		t := time.NewTicker(s.opts.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync:
		case <-s.changed:
			t := time.NewTimer(s.opts.Debounce)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		s.refresh(ctx)
		select {
		case refreshed <- struct{}{}: // (a nil channel never takes it)
		default:
		}
	}
}

// snapshotJSON is a Snapshot as sent to the page.
type snapshotJSON struct {
	Snapshot
	Acting []string `json:"acting,omitempty"`
}

// refresh takes a snapshot and sends it (and the graph, when it changed) to every page.
func (s *Server) refresh(ctx context.Context) {
	snap, err := s.src.Snapshot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		snap.Error = err.Error()
	}
	snap.Daemon, snap.Error = redact.Text(snap.Daemon), redact.Text(snap.Error)
	for i := range snap.Services {
		sv := &snap.Services[i]
		sv.Image = redact.Credentials(sv.Image)
		if sv.Build != nil {
			sv.Build.Error = redact.Text(sv.Build.Error)
			for j, l := range sv.Build.Tail {
				sv.Build.Tail[j] = redact.Text(l)
			}
		}
	}
	s.mu.Lock()
	acting := make([]string, 0, len(s.acting))
	for n := range s.acting {
		acting = append(acting, n)
	}
	s.mu.Unlock()
	slices.Sort(acting)
	data, err := json.Marshal(snapshotJSON{Snapshot: snap, Acting: acting})
	if err != nil {
		return
	}
	var graph []byte
	if snap.Graph != nil {
		key := graphKey(snap.Graph)
		s.mu.Lock()
		if key != s.graphKey {
			svg, _ := json.Marshal(RenderGraph(snap.Graph))
			s.graphKey, s.graphSVG, graph = key, svg, svg
		}
		s.mu.Unlock()
	}
	names := make(map[string]bool, len(snap.Services))
	for _, sv := range snap.Services {
		names[sv.Name] = true
	}
	s.mu.Lock()
	same := bytes.Equal(data, s.snap)
	s.snap, s.names = data, names
	s.mu.Unlock()
	if graph != nil {
		s.broadcast(message{"graph", graph})
	}
	if !same {
		s.broadcast(message{"state", data})
	}
}

func (s *Server) broadcast(m message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		select {
		case c <- m:
		default:
			// A page that does not read (a stalled tab) loses this message; the next
			// state message carries everything again.
		}
	}
}

// Handler returns the page's routes, behind the token and origin checks.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleIndex)
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/stream", s.handleStream)
	mux.HandleFunc("GET /api/state", s.handleState)
	mux.HandleFunc("GET /api/logs", s.handleLogs)
	mux.HandleFunc("POST /api/services/{service}/{action}", s.handleAction)
	return s.guard(mux)
}

// cookieName is per port: cookies are not separated by port, two pages are.
func (s *Server) cookieName(r *http.Request) string {
	_, port, _ := net.SplitHostPort(r.Host)
	return "clocal_ui_" + port
}

func (s *Server) validToken(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(s.token)) == 1
}

// guard refuses requests that do not carry the token (401), come with a Host that is not
// the loopback address the server listens on (DNS rebinding: 403), or are cross-site
// writes (403).
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the token must not leak through links
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cache-Control", "no-store")
		if !s.hostAllowed(r.Host) {
			http.Error(w, "forbidden: unexpected Host "+strconv.Quote(r.Host), http.StatusForbidden)
			return
		}
		fromQuery := r.URL.Query().Get("token")
		fromHeader := r.Header.Get(TokenHeader)
		var fromCookie string
		if c, err := r.Cookie(s.cookieName(r)); err == nil {
			fromCookie = c.Value
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// Writes: the header (which a cross-site form cannot set) and a same-origin request.
			if !s.validToken(fromHeader) {
				http.Error(w, "unauthorized: actions need the "+TokenHeader+" header", http.StatusUnauthorized)
				return
			}
			if !sameOrigin(r) {
				http.Error(w, "forbidden: cross-site request", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case s.validToken(fromQuery):
			http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		case s.validToken(fromHeader), s.validToken(fromCookie):
		default:
			http.Error(w, "unauthorized: open the URL clocal ui printed (it carries ?token=…)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed accepts the loopback names of the port the server listens on.
func (s *Server) hostAllowed(host string) bool {
	s.mu.Lock()
	addr := s.addr
	s.mu.Unlock()
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	if addr != "" {
		if _, p, _ := net.SplitHostPort(addr); p != port {
			return false
		}
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin checks the browser's own statements about where a write comes from.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
		return false
	}
	return true
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// The script reads the token from the page for the action header.
	page = bytes.Replace(page, []byte("{{TOKEN}}"), []byte(html.EscapeString(s.token)), 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

// handleState returns the last snapshot (for scripts and tests).
func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data := s.snap
	s.mu.Unlock()
	if data == nil {
		s.refresh(r.Context())
		s.mu.Lock()
		data = s.snap
		s.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}

// sse writes server-sent events.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) (*sse, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	f.Flush()
	return &sse{w: w, f: f}, true
}

func (e *sse) send(event string, data []byte) error {
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	e.f.Flush()
	return nil
}

func (e *sse) comment() error {
	if _, err := fmt.Fprint(e.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	e.f.Flush()
	return nil
}

// keepAlive is how often an idle stream sends a comment (proxies, dead connections).
const keepAlive = 25 * time.Second

// handleStream is the page's live feed: the graph, the state and the event history first,
// then every change.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	c := make(chan message, 64)
	s.mu.Lock()
	s.clients[c] = struct{}{}
	snap, graph := s.snap, s.graphSVG
	hist := make([]json.RawMessage, len(s.history))
	for i, h := range s.history {
		hist[i] = h
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	out, ok := newSSE(w)
	if !ok {
		return
	}
	histJSON, _ := json.Marshal(hist)
	if graph != nil {
		_ = out.send("graph", graph)
	}
	if snap != nil {
		_ = out.send("state", snap)
	} else {
		s.notify()
	}
	if err := out.send("history", histJSON); err != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case m := <-c:
			if err := out.send(m.event, m.data); err != nil {
				return
			}
		case <-tick.C:
			if err := out.comment(); err != nil {
				return
			}
		}
	}
}

// logBatch bounds one logs message; logQueue bounds the lines waiting for a slow page
// (past it lines are dropped and the page is told how many).
const (
	logBatch = 500
	logQueue = 5000
	logFlush = 100 * time.Millisecond
)

type logLine struct {
	Service string `json:"s"`
	Line    string `json:"l"`
	Stderr  bool   `json:"e,omitempty"`
}

// handleLogs follows the logs of ?service=… (several: multiplexed; none: all), starting
// with ?tail= lines of each (default 200), as batches of lines.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	services := q["service"]
	tail := q.Get("tail")
	if tail == "" {
		tail = "200"
	}
	if _, err := strconv.Atoi(tail); err != nil && tail != "all" {
		http.Error(w, "tail: a number or all", http.StatusBadRequest)
		return
	}
	out, ok := newSSE(w)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	lines := make(chan logLine, logQueue)
	var dropped int64
	var dmu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- s.src.Logs(ctx, services, tail, logSink(func(svc, line string, stderr bool) {
			select {
			case lines <- logLine{Service: svc, Line: redact.Text(line), Stderr: stderr}:
			default:
				dmu.Lock()
				dropped++
				dmu.Unlock()
			}
		}))
	}()
	tick := time.NewTicker(logFlush)
	defer tick.Stop()
	alive := time.NewTicker(keepAlive)
	defer alive.Stop()
	var batch []logLine
	flush := func() error {
		dmu.Lock()
		d := dropped
		dropped = 0
		dmu.Unlock()
		if d > 0 {
			if err := out.send("dropped", []byte(strconv.FormatInt(d, 10))); err != nil {
				return err
			}
		}
		if len(batch) == 0 {
			return nil
		}
		data, _ := json.Marshal(batch)
		batch = batch[:0]
		return out.send("logs", data)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-lines:
			batch = append(batch, l)
			if len(batch) >= logBatch {
				if flush() != nil {
					return
				}
			}
		case <-tick.C:
			if flush() != nil {
				return
			}
		case <-alive.C:
			if out.comment() != nil {
				return
			}
		case err := <-done:
			// Drain what the sink queued, then say why the stream ended; the page
			// reconnects (the daemon may have restarted).
			for len(lines) > 0 {
				batch = append(batch, <-lines)
			}
			_ = flush()
			msg := "log stream ended"
			if err != nil {
				msg = redact.Text(err.Error())
			}
			data, _ := json.Marshal(msg)
			_ = out.send("end", data)
			return
		}
	}
}

type logSink func(service, line string, stderr bool)

func (f logSink) Log(service, _, line string, stderr bool) { f(service, line, stderr) }

// handleAction starts an action on a service and answers 202 at once; the page follows
// its progress through the events (action, action-done, action-failed).
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	service, action := r.PathValue("service"), r.PathValue("action")
	if !slices.Contains(Actions, action) {
		http.Error(w, "unknown action "+strconv.Quote(action)+" (want one of "+strings.Join(Actions, ", ")+")", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	known := s.names[service]
	s.mu.Unlock()
	if !known {
		http.Error(w, "unknown service "+strconv.Quote(service), http.StatusNotFound)
		return
	}
	s.mu.Lock()
	if s.acting[service] {
		s.mu.Unlock()
		http.Error(w, service+": another action is running", http.StatusConflict)
		return
	}
	s.acting[service] = true
	base := s.base
	s.mu.Unlock()
	s.src.Record(devloop.Event{Time: time.Now(), Kind: "action", Service: service, Action: action})
	s.notify()
	go func() {
		ctx, cancel := context.WithTimeout(base, s.opts.ActionTimeout)
		defer cancel()
		err := s.src.Act(ctx, action, service)
		s.mu.Lock()
		delete(s.acting, service)
		s.mu.Unlock()
		e := devloop.Event{Time: time.Now(), Kind: "action-done", Service: service, Action: action}
		if err != nil {
			e.Kind, e.Error = "action-failed", err.Error()
		}
		s.src.Record(e)
		s.notify()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprintf(w, `{"service":%q,"action":%q,"accepted":true}`+"\n", service, action)
}
