package job

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Pos is a position in a job file. Line and Col are 1-based.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Env is one `envs` entry of a job.
type Env struct {
	Key   string
	Value string
	Pos   Pos
}

// Volume is one `volumes` entry of a job.
type Volume struct {
	ContainerPath string
	HostPath      string
	ReadOnly      bool
	Pos           Pos
}

// Job is one production app instance, as written in a job file.
type Job struct {
	Name       string
	Image      string
	RunOnHost  string
	Envs       []Env
	Volumes    []Volume
	Command    []string
	Args       []string
	CPUs       float64
	MemoryMB   int64
	User       string
	WorkingDir string
	Restart    string

	// Extra holds the fields of the job that clocal does not map (a production schema's
	// own fields: labels, instance counts, limits...), as a JSON object with proto field
	// names; nil when there are none. Shown by `clocal inspect`.
	Extra json.RawMessage
	// FileExtra holds the fields of the job's file outside its jobs (cluster: "eu-1"), as a
	// JSON object, shared by the jobs of one file; nil when there are none.
	FileExtra json.RawMessage

	// Pos is where the job message starts.
	Pos Pos
}

// Env returns the value of the env key and whether it is set (last one wins, as in production).
func (j *Job) Env(key string) (string, bool) {
	v, ok := "", false
	for _, e := range j.Envs {
		if e.Key == key {
			v, ok = e.Value, true
		}
	}
	return v, ok
}

// Error is one problem found in a job file.
type Error struct {
	Pos Pos
	Msg string
}

func (e Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found; it is an error when non-empty.
type ErrorList []Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns nil for an empty list, so callers can `return jobs, errs.Err()`.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
