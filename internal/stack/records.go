package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/devloop"
)

// What a stack remembers besides its state, for the status page (`clocal ui`) and any other
// process looking at the same stack: the last build of each service and the dev loop's
// events. Both live in the project folder (owner-only), so a `clocal ui` started next to a
// `clocal watch` sees that watch's builds and events; `clocal down` removes them with the
// rest of the stack's state.

// BuildRecord is the last build of one service: when it ran, how long it took, its result and,
// when it failed, the last lines of its output.
type BuildRecord struct {
	Service   string         `json:"service"`
	Time      time.Time      `json:"time"` // when the build started
	Duration  devloop.Millis `json:"duration_ms"`
	Script    devloop.Millis `json:"build_sh_ms,omitempty"`
	ImageTime devloop.Millis `json:"image_ms,omitempty"`
	Image     string         `json:"image,omitempty"`
	Built     bool           `json:"built"` // false: the image with this content hash existed (nothing ran)
	OK        bool           `json:"ok"`
	Error     string         `json:"error,omitempty"`
	Tail      []string       `json:"tail,omitempty"` // last lines of a failed build.sh or image build
}

const (
	buildRecordPrefix = "build-"
	eventLogFile      = "events.jsonl"
	stateFile         = "state.json"
	// eventLogMax bounds the event log: past it the older half is dropped.
	eventLogMax = 1 << 20
)

// ensure is the one place images are built for the stack (up, reload, the dev loop): it runs
// the builder and records the outcome for the status page.
func (s *Stack) ensure(ctx context.Context, spec build.Spec, force bool) (build.Result, error) {
	start := time.Now()
	res, err := s.Builder.Ensure(ctx, spec, force)
	if err != nil && ctx.Err() != nil {
		return res, err // cancelled, not failed: keep the previous record
	}
	rec := BuildRecord{Service: spec.Service, Time: start.UTC(), Duration: devloop.Millis(time.Since(start)),
		Script: devloop.Millis(res.ScriptDur), ImageTime: devloop.Millis(res.ImageDur), Image: res.Image, Built: res.Built, OK: err == nil}
	if err != nil {
		rec.Error = err.Error()
		var se *build.ScriptError
		var ie *build.ImageError
		switch {
		case errors.As(err, &se):
			rec.Tail = se.Tail
		case errors.As(err, &ie):
			rec.Tail = ie.Tail
		}
	} else if !res.Built {
		// Nothing ran: keep the record of the build that made this image, if there is one.
		if prev, ok := s.BuildRecords()[spec.Service]; ok && prev.OK && prev.Image == res.Image {
			return res, nil
		}
	}
	s.RecordBuild(rec)
	return res, err
}

// RecordBuild remembers rec as the last build of its service (one file per service, so
// builds of several services and processes never overwrite each other's records).
func (s *Stack) RecordBuild(rec BuildRecord) {
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	_, _ = s.writeState(buildRecordPrefix+rec.Service+".json", data)
}

// BuildRecords returns the last recorded build of each service.
func (s *Stack) BuildRecords() map[string]BuildRecord {
	out := map[string]BuildRecord{}
	entries, err := os.ReadDir(s.ProjectDir())
	if err != nil {
		return out
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, buildRecordPrefix) || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.ProjectDir(), name))
		if err != nil {
			continue
		}
		var rec BuildRecord
		if json.Unmarshal(data, &rec) == nil && rec.Service != "" {
			out[rec.Service] = rec
		}
	}
	return out
}

// EventLog is the stack's log of dev loop events (JSON lines in the project folder).
type EventLog struct{ dir string }

// EventLog returns the stack's event log. Its folder is fixed now: a watch that reloads
// the workspace keeps logging to the same place.
func (s *Stack) EventLog() *EventLog { return &EventLog{dir: s.ProjectDir()} }

// Path is the log file.
func (l *EventLog) Path() string { return filepath.Join(l.dir, eventLogFile) }

var eventLogMu sync.Mutex

// Append adds e to the log. Appends are single writes with O_APPEND, so several processes
// (a watch, a status page) may log to one stack. Errors are ignored: the log is for looking
// at, never a reason to fail a build or a replace. A stack without state (taken down) logs
// nothing: its folder is not recreated.
func (l *EventLog) Append(e devloop.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	eventLogMu.Lock()
	defer eventLogMu.Unlock()
	if _, err := os.Stat(filepath.Join(l.dir, stateFile)); err != nil {
		return
	}
	path := l.Path()
	if fi, err := os.Stat(path); err == nil && fi.Size() > eventLogMax {
		trimEventLog(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	_, _ = f.Write(append(data, '\n'))
	_ = f.Close()
}

// trimEventLog keeps the newer half of the log.
func trimEventLog(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	data = data[len(data)/2:]
	if i := strings.IndexByte(string(data), '\n'); i >= 0 {
		data = data[i+1:]
	}
	tmp := path + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		_ = os.Rename(tmp, path)
	}
}

// EventLogReporter tees events into an event log.
type EventLogReporter struct {
	Log  *EventLog
	Next devloop.Reporter // may be nil
}

// Report implements devloop.Reporter.
func (r *EventLogReporter) Report(e devloop.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.Log.Append(e)
	if r.Next != nil {
		r.Next.Report(e)
	}
}

// Read returns the events logged from byte offset on and the offset after the last
// complete line (a line being written is left for the next read). A log that shrank
// (trimmed, or removed by a down) is read from the start.
func (l *EventLog) Read(offset int64) ([]devloop.Event, int64) {
	f, err := os.Open(l.Path())
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, offset
	}
	var out []devloop.Event
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // EOF, or a partial last line
		}
		offset += int64(len(line))
		var e devloop.Event
		if json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out, offset
}
