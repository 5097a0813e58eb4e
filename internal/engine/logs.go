package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/clocal-dev/clocal/internal/labels"
)

// Logs is implemented on the Engine API directly rather than with compose's Logs, which
// merges stdout and stderr and names containers, not services.
func (e *composeEngine) Logs(ctx context.Context, project string, services []string, o LogOptions, sink LogSink) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	if sink == nil {
		return fmt.Errorf("logs %s: nil sink", project)
	}
	if err := streamLogs(ctx, c.api, project, services, o, sink); err != nil {
		return fmt.Errorf("logs %s: %w", project, daemonErr(c.api, err))
	}
	return nil
}

type logStreamer struct {
	api    client.APIClient
	opts   LogOptions
	emitMu sync.Mutex
	sink   LogSink

	mu      sync.Mutex
	active  map[string]bool // container ID → a goroutine is streaming it
	started map[string]bool // container ID → (re)started while being streamed
	errs    []error
	wg      sync.WaitGroup
}

func streamLogs(ctx context.Context, c client.APIClient, project string, services []string, o LogOptions, sink LogSink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Tail == "all" {
		o.Tail = ""
	}
	ls := &logStreamer{api: c, opts: o, sink: sink, active: map[string]bool{}, started: map[string]bool{}}
	wanted := func(l map[string]string) bool {
		if l[labels.ComposeOneoff] == "True" {
			return false
		}
		return len(services) == 0 || slices.Contains(services, l[labels.ComposeService])
	}

	// Subscribe before listing so no start is missed in between.
	var evs <-chan events.Message
	var evErrs <-chan error
	if o.Follow {
		evs, evErrs = c.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
			filters.Arg("type", string(events.ContainerEventType)),
			filters.Arg("event", string(events.ActionStart)),
			filters.Arg("label", labels.ComposeProject+"="+project),
		)})
	}
	list, err := c.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+project)),
	})
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b container.Summary) int { return int(a.Created - b.Created) })
	for _, ctr := range list {
		if wanted(ctr.Labels) {
			ls.follow(ctx, ctr.ID, false)
		}
	}
	if !o.Follow {
		ls.wg.Wait()
		return ls.err()
	}
	for {
		select {
		case <-ctx.Done():
			ls.wg.Wait()
			return nil
		case ev := <-evs:
			if wanted(ev.Actor.Attributes) {
				ls.follow(ctx, ev.Actor.ID, true)
			}
		case err := <-evErrs:
			if ctx.Err() != nil {
				ls.wg.Wait()
				return nil
			}
			cancel()
			ls.wg.Wait()
			return err
		}
	}
}

func (ls *logStreamer) err() error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.errs) == 0 {
		return nil
	}
	return ls.errs[0]
}

// follow starts streaming a container unless it is already streamed; in that case a
// start event is remembered so the streamer re-attaches once the current stream ends.
func (ls *logStreamer) follow(ctx context.Context, id string, fromStart bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.active[id] {
		ls.started[id] = true
		return
	}
	ls.active[id] = true
	ls.wg.Add(1)
	go func() {
		defer ls.wg.Done()
		if err := ls.run(ctx, id, fromStart); err != nil && ctx.Err() == nil {
			ls.mu.Lock()
			ls.errs = append(ls.errs, err)
			ls.mu.Unlock()
		}
	}()
}

func (ls *logStreamer) run(ctx context.Context, id string, fromStart bool) error {
	var lastStart string
	defer func() {
		ls.mu.Lock()
		delete(ls.active, id)
		delete(ls.started, id)
		ls.mu.Unlock()
	}()
	for {
		in, err := ls.api.ContainerInspect(ctx, id)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		startedAt := ""
		if in.State != nil {
			startedAt = in.State.StartedAt
		}
		since, tail := ls.opts.Since, ls.opts.Tail
		if fromStart {
			if startedAt == lastStart {
				return nil // nothing new was started
			}
			since, tail = runSince(in.State), ""
		}
		lastStart = startedAt
		service := in.Config.Labels[labels.ComposeService]
		name := strings.TrimPrefix(in.Name, "/")
		if err := ls.stream(ctx, id, service, name, in.Config.Tty, since, tail); err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsNotImplemented(err) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !ls.opts.Follow || ctx.Err() != nil {
			return nil
		}
		// The stream ends when the container stops: re-attach if it was started again.
		ls.mu.Lock()
		again := ls.started[id]
		delete(ls.started, id)
		ls.mu.Unlock()
		if !again {
			return nil
		}
		fromStart = true
	}
}

func (ls *logStreamer) stream(ctx context.Context, id, service, name string, tty bool, since, tail string) error {
	rc, err := ls.api.ContainerLogs(ctx, id, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     ls.opts.Follow,
		Since:      since,
		Tail:       tail,
		Timestamps: ls.opts.Timestamps,
	})
	if err != nil {
		return err
	}
	defer rc.Close() //nolint:errcheck
	emit := func(stderr bool) func(string) {
		return func(line string) {
			ls.emitMu.Lock()
			defer ls.emitMu.Unlock()
			ls.sink.Log(service, name, line, stderr)
		}
	}
	out := &lineWriter{emit: emit(false)}
	errw := &lineWriter{emit: emit(true)}
	if tty {
		_, err = io.Copy(out, rc)
	} else {
		_, err = stdcopy.StdCopy(out, errw, rc)
	}
	out.Flush()
	errw.Flush()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runSince is the Since for the logs of the run a start event announced. StartedAt
// itself is not usable: the daemon records it after the process was started, so the
// first lines a fast process writes carry earlier timestamps and would be dropped. What
// separates this run from the previous one is when the previous one finished (the daemon
// drains a run's output before it records FinishedAt); a container that never finished
// has only this run, so all of its logs are wanted. Only when this run has already
// ended again (a crash loop) is FinishedAt its own, and StartedAt is the best bound left.
func runSince(st *container.State) string {
	if st == nil {
		return ""
	}
	finished, err := time.Parse(time.RFC3339Nano, st.FinishedAt)
	if err != nil || finished.IsZero() {
		return ""
	}
	started, err := time.Parse(time.RFC3339Nano, st.StartedAt)
	if err != nil {
		return dockerSince(st.FinishedAt)
	}
	if !st.Running && !finished.Before(started) {
		return dockerSince(st.StartedAt)
	}
	return dockerSince(st.FinishedAt)
}

// dockerSince formats an RFC 3339 time as the API's "seconds.nanoseconds" timestamp.
func dockerSince(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil || t.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// maxLogLine bounds one emitted log line: output without newlines (a service writing
// hundreds of MB in one "line") is cut into pieces of this size instead of being buffered.
const maxLogLine = 64 << 10

// lineWriter splits what it is given into lines of at most maxLogLine bytes.
type lineWriter struct {
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	start := 0
	for {
		i := bytes.IndexByte(w.buf[start:], '\n')
		if i < 0 {
			break
		}
		for i > maxLogLine {
			w.emit(string(w.buf[start : start+maxLogLine]))
			start += maxLogLine
			i -= maxLogLine
		}
		w.emit(strings.TrimSuffix(string(w.buf[start:start+i]), "\r"))
		start += i + 1
	}
	for len(w.buf)-start >= maxLogLine {
		w.emit(string(w.buf[start : start+maxLogLine]))
		start += maxLogLine
	}
	w.buf = append(w.buf[:0], w.buf[start:]...)
	return len(p), nil
}

// Flush emits a last line without newline.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit(strings.TrimSuffix(string(w.buf), "\r"))
		w.buf = w.buf[:0]
	}
}
