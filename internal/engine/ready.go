package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/labels"
)

// clocal's own readiness probes (see internal/convert/health.go for why).
//
// A service whose container carries labels.Readiness is probed by Docker only every
// couple of minutes. While clocal waits for it (up, a replace, start, restart) and Docker
// still says "health: starting", clocal runs the same healthcheck test itself, through the
// Engine API's exec, at the service file's interval: the service counts as ready as soon
// as one probe passes, and as failed after `retries` consecutive failed probes once its
// start period is over (the failures Docker would have counted with the service file's
// interval). Nothing is probed by clocal when nobody waits: the idle cost is Docker's slow
// probes only.
//
// A container clocal found ready is remembered in the process and in a small file next to
// the project's compose file (ready.json, found through compose's config_files label), so
// that another clocal process (a no-op up, ps) does not probe it again while Docker's own
// first probe is still minutes away.

// probeOutputMax bounds the probe output kept for messages (Docker keeps 4 KiB).
const probeOutputMax = 4096

// defaultProbeTimeout is Docker's default healthcheck timeout.
const defaultProbeTimeout = 30 * time.Second

// inspectTTL: how long an inspect of a starting container is reused between polls.
const inspectTTL = time.Second

// prober runs readiness probes and remembers their results, per container.
type prober struct {
	api   client.APIClient
	slots chan struct{} // probes at once: each is a runc exec on the daemon

	mu       sync.Mutex
	byID     map[string]*probeState
	inspects map[string]inspected
	records  map[string]*readyRecord // project folder -> record
}

type inspected struct {
	at  time.Time
	key string // the list's view of the container when it was inspected
	in  container.InspectResponse
}

type probeState struct {
	startedAt string // the container start the results belong to
	running   bool
	last      time.Time // start of the last probe
	ready     bool      // a probe passed: ready until the container restarts
	results   []probeResult
	output    string
	exit      int
}

type probeResult struct {
	at time.Time
	ok bool
}

func newProber(api client.APIClient) *prober {
	return &prober{
		api:      api,
		slots:    make(chan struct{}, max(2, runtime.NumCPU())),
		byID:     map[string]*probeState{},
		inspects: map[string]inspected{},
		records:  map[string]*readyRecord{},
	}
}

// inspect returns the container's inspect, reused for inspectTTL while the container list
// shows the same state and health: a wait polls every 250 ms, and sixty starting containers
// must not cost 240 inspects a second.
func (p *prober) inspect(ctx context.Context, ctr container.Summary) (container.InspectResponse, error) {
	health, _ := statusDetails(ctr.State, ctr.Status)
	key := ctr.State + "/" + health
	p.mu.Lock()
	if c, ok := p.inspects[ctr.ID]; ok && c.key == key && time.Since(c.at) < inspectTTL {
		p.mu.Unlock()
		return c.in, nil
	}
	p.mu.Unlock()
	in, err := p.api.ContainerInspect(ctx, ctr.ID)
	if err != nil {
		return in, err
	}
	p.mu.Lock()
	p.inspects[ctr.ID] = inspected{at: time.Now(), key: key, in: in}
	p.pruneLocked()
	p.mu.Unlock()
	return in, nil
}

// pruneLocked drops what is known of containers not looked at for a while (replaced ones,
// over a long watch).
func (p *prober) pruneLocked() {
	if len(p.inspects) > 128 {
		for id, c := range p.inspects {
			if time.Since(c.at) > time.Minute {
				delete(p.inspects, id)
			}
		}
	}
	if len(p.byID) > 512 {
		for id, st := range p.byID {
			if !st.running && time.Since(st.last) > 10*time.Minute {
				delete(p.byID, id)
			}
		}
	}
}

// forget drops what is known of containers (they were restarted or removed).
func (p *prober) forget(ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		delete(p.byID, id)
		delete(p.inspects, id)
	}
}

// readinessOf returns the container's readiness settings when clocal probes it itself now:
// it is running, has a readiness label and a healthcheck test, and Docker's own probes are
// slow at this moment (no start_interval, or past its start period).
func readinessOf(in container.InspectResponse) (convert.Readiness, bool) {
	if in.State == nil || in.State.Status != container.StateRunning || in.Config == nil || in.Config.Healthcheck == nil {
		return convert.Readiness{}, false
	}
	hc := in.Config.Healthcheck
	if len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return convert.Readiness{}, false
	}
	r, err := convert.ParseReadiness(in.Config.Labels[labels.Readiness])
	if err != nil {
		return r, false
	}
	if hc.StartInterval > 0 {
		started, _ := time.Parse(time.RFC3339Nano, in.State.StartedAt)
		if time.Since(started) < hc.StartPeriod {
			return r, false // Docker probes at start_interval itself
		}
	}
	return r, true
}

// verdict is what clocal's probes say of a container.
type verdict struct {
	ready, failed bool
	detail        string // last probe, for messages
}

// check returns the probes' verdict on a running container and starts a probe when one is
// due. Failures count when the probe started after the start period, measured from the
// container's start or from judgeFrom, whichever is later (a dependent is judged only once
// its dependencies are ready).
func (p *prober) check(in container.InspectResponse, r convert.Readiness, judgeFrom time.Time) verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.byID[in.ID]
	if st == nil || st.startedAt != in.State.StartedAt {
		st = &probeState{startedAt: in.State.StartedAt}
		p.byID[in.ID] = st
	}
	if st.ready {
		return verdict{ready: true}
	}
	started, _ := time.Parse(time.RFC3339Nano, in.State.StartedAt)
	from := started
	if judgeFrom.After(from) {
		from = judgeFrom
	}
	from = from.Add(r.StartPeriod)
	fails := 0
	for i := len(st.results) - 1; i >= 0 && !st.results[i].ok && st.results[i].at.After(from); i-- {
		fails++
	}
	v := verdict{detail: st.describe()}
	if fails >= max(r.Retries, 1) {
		v.failed = true
		v.detail = fmt.Sprintf("%d readiness checks failed in a row%s", fails, st.describe())
		return v
	}
	if !st.running && time.Since(st.last) >= r.Interval {
		st.running, st.last = true, time.Now()
		go p.probe(in, r, st)
	}
	return v
}

func (st *probeState) describe() string {
	if st.output == "" && st.exit == 0 {
		return ""
	}
	if st.output == "" {
		return fmt.Sprintf(" (last check exit %d)", st.exit)
	}
	return fmt.Sprintf(" (last check exit %d: %s)", st.exit, st.output)
}

// probe runs the healthcheck test once in the container, like Docker's own probe: CMD
// execs its arguments, CMD-SHELL runs /bin/sh -c.
func (p *prober) probe(in container.InspectResponse, r convert.Readiness, st *probeState) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	ok, exit, out := false, -1, ""
	// Not the waiter's context: a probe always ends within its timeout, and its result
	// serves the next waiter too.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
		ok, exit, out = p.exec(ctx, in)
	case <-ctx.Done():
		out = "no probe slot within the timeout"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st.running = false
	st.exit, st.output = exit, out
	st.results = append(st.results, probeResult{at: st.last, ok: ok})
	if n := max(r.Retries, 1) + 1; len(st.results) > n {
		st.results = append(st.results[:0], st.results[len(st.results)-n:]...)
	}
	if ok {
		st.ready = true
		p.recordLocked(in)
	}
}

func (p *prober) exec(ctx context.Context, in container.InspectResponse) (ok bool, exit int, output string) {
	test := in.Config.Healthcheck.Test
	var cmd []string
	switch test[0] {
	case "CMD":
		cmd = test[1:]
	case "CMD-SHELL":
		cmd = []string{"/bin/sh", "-c", strings.Join(test[1:], " ")}
	default:
		cmd = test
	}
	if len(cmd) == 0 {
		return false, -1, "empty healthcheck test"
	}
	created, err := p.api.ContainerExecCreate(ctx, in.ID, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return false, -1, oneLine(err.Error())
	}
	att, err := p.api.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return false, -1, oneLine(err.Error())
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&limitedBuffer{b: &buf, n: probeOutputMax}, att.Reader)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		att.Close()
		<-done
		return false, -1, fmt.Sprintf("Health check exceeded timeout (%s)", timeoutOf(ctx))
	}
	att.Close()
	res, err := p.api.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return false, -1, oneLine(err.Error())
	}
	return res.ExitCode == 0, res.ExitCode, oneLine(stripStreamHeaders(buf.Bytes()))
}

func timeoutOf(ctx context.Context) string {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d).Round(time.Second).String()
	}
	return "?"
}

// stripStreamHeaders removes the 8-byte frame headers of a multiplexed (non-TTY) exec stream.
func stripStreamHeaders(b []byte) string {
	var out []byte
	for len(b) >= 8 && b[0] <= 2 && b[1] == 0 && b[2] == 0 && b[3] == 0 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		b = b[8:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return string(append(out, b...))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// limitedBuffer keeps the first n bytes written and discards the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// readyRecord is the ready.json of one project folder: container ID -> the start time of
// the container when clocal found it ready.
type readyRecord struct {
	path    string
	modTime time.Time
	ids     map[string]string
}

// recordDir is the folder of the project's compose file, where clocal keeps its state.
func recordDir(ls map[string]string) string {
	files := ls[labels.ComposeConfigFiles]
	if files == "" {
		return ""
	}
	first, _, _ := strings.Cut(files, ",")
	if !filepath.IsAbs(first) {
		return ""
	}
	dir := filepath.Dir(first)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	return dir
}

// recordLocked adds a container found ready to its project's record (p.mu held).
func (p *prober) recordLocked(in container.InspectResponse) {
	if in.Config == nil {
		return
	}
	rec := p.recordForLocked(recordDir(in.Config.Labels))
	if rec == nil {
		return
	}
	rec.ids[in.ID] = in.State.StartedAt
	data, _ := json.Marshal(rec.ids)
	tmp, err := os.CreateTemp(filepath.Dir(rec.path), ".ready.json.tmp-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), rec.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	if fi, err := os.Stat(rec.path); err == nil {
		rec.modTime = fi.ModTime()
	}
}

// recordForLocked returns the record of a project folder, re-read when the file changed
// (another clocal process wrote it).
func (p *prober) recordForLocked(dir string) *readyRecord {
	if dir == "" {
		return nil
	}
	rec := p.records[dir]
	if rec == nil {
		rec = &readyRecord{path: filepath.Join(dir, "ready.json"), ids: map[string]string{}}
		p.records[dir] = rec
	}
	fi, err := os.Stat(rec.path)
	if err != nil {
		rec.ids, rec.modTime = map[string]string{}, time.Time{}
		return rec
	}
	if !fi.ModTime().Equal(rec.modTime) {
		ids := map[string]string{}
		if data, err := os.ReadFile(rec.path); err == nil && json.Unmarshal(data, &ids) == nil {
			rec.ids = ids
		}
		rec.modTime = fi.ModTime()
	}
	return rec
}

// recordedStart returns the start time of a running container when clocal found it ready
// (this process or another): its health reads "healthy" even while Docker's first own
// probe is still minutes away. Waits compare the start time with an inspect, so a
// container restarted since is probed again; ps trusts the record.
func (p *prober) recordedStart(ctr container.Summary) (string, bool) {
	if _, ok := ctr.Labels[labels.Readiness]; !ok || ctr.State != container.StateRunning {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.byID[ctr.ID]; st != nil && st.ready {
		return st.startedAt, true
	}
	rec := p.recordForLocked(recordDir(ctr.Labels))
	if rec == nil {
		return "", false
	}
	started, ok := rec.ids[ctr.ID]
	return started, ok
}

// forgetRecorded drops containers from their project's record (restarted by clocal).
func (p *prober) forgetRecorded(ctrs []container.Summary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ctr := range ctrs {
		delete(p.byID, ctr.ID)
		delete(p.inspects, ctr.ID)
		rec := p.recordForLocked(recordDir(ctr.Labels))
		if rec == nil {
			continue
		}
		if _, ok := rec.ids[ctr.ID]; ok {
			delete(rec.ids, ctr.ID)
			data, _ := json.Marshal(rec.ids)
			_ = os.WriteFile(rec.path, data, 0o600)
			if fi, err := os.Stat(rec.path); err == nil {
				rec.modTime = fi.ModTime()
			}
		}
	}
}
