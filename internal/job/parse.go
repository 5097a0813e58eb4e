package job

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/clocal-dev/clocal/internal/job/jobpb"
)

// MaxFileSize is the largest job file read (16 MiB).
const MaxFileSize = 16 << 20

// ServiceNamePattern is the rule a job name must follow once lowercased: it
// becomes a compose service name.
const ServiceNamePattern = `^[a-z0-9][a-z0-9_.-]*$`

// ParseFile decodes and validates one job file. path is only used in
// positions. It returns the jobs decoded and every problem found, including
// jobs of this file sharing a name; a file with a syntax error yields no jobs
// and only that error.
func ParseFile(path string, data []byte) ([]*Job, ErrorList) {
	r := parseFile(path, data)
	errs := append(r.errs, duplicates(r.jobs, r.names)...)
	sortErrors(errs)
	return r.jobs, errs
}

// parsed is the result of parseFile, before duplicate names are checked.
type parsed struct {
	jobs  []*Job
	names []Pos // position of each job's name field (the job's Pos if none)
	errs  ErrorList
	// fallback is set when prototext refused the file but the scanner and
	// checker found nothing: then the error is prototext's (a gap the fuzz
	// target looks for).
	fallback bool
}

func parseFile(file string, data []byte) parsed {
	if len(data) > MaxFileSize {
		return parsed{errs: ErrorList{{Pos: Pos{File: file}, Msg: fileTooBig(int64(len(data)))}}}
	}
	pt := &posTable{file: file, data: data, src: string(data)}
	if e, ok := checkText(pt); !ok {
		return parsed{errs: ErrorList{e}}
	}
	tree, serr := scan(data, pt)
	if serr != nil {
		return parsed{errs: ErrorList{pt.errorf(serr.off, "%s", serr.msg)}}
	}
	c := &checker{pt: pt}
	c.message(fileDesc, tree)

	var pb jobpb.JobFile
	if err := (prototext.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &pb); err != nil {
		// The checker reports all prototext would, and more precisely; keep
		// prototext's own error only when it says something new.
		e := protoError(pt, err)
		if !slices.ContainsFunc(c.errs, func(x Error) bool { return x.Pos == e.Pos }) {
			return parsed{errs: append(c.errs, e), fallback: true}
		}
		return parsed{errs: c.errs}
	}
	b := builder{pt: pt, errs: c.errs}
	b.build(tree, pb.GetJob())
	return parsed{jobs: b.jobs, names: b.names, errs: b.errs}
}

func fileTooBig(size int64) string {
	return fmt.Sprintf("file is too big: %d bytes, over the %d MiB limit", size, MaxFileSize>>20)
}

var protoErrRE = regexp.MustCompile(`\(line (\d+):(\d+)\): `)

// protoError turns a prototext error into an Error. Its text is
// "proto: [syntax error ](line L:C): MSG", or has no position (unexpected EOF).
func protoError(pt *posTable, err error) Error {
	s := err.Error()
	if m := protoErrRE.FindStringSubmatchIndex(s); m != nil {
		line, _ := strconv.Atoi(s[m[2]:m[3]])
		col, _ := strconv.Atoi(s[m[4]:m[5]])
		msg := strings.TrimSpace(s[m[1]:])
		if strings.Contains(s[:m[0]], "syntax error") {
			msg = "syntax error: " + msg
		}
		return Error{Pos: Pos{File: pt.file, Line: line, Col: col}, Msg: msg}
	}
	msg := strings.TrimSpace(strings.TrimPrefix(s, "proto:"))
	msg = strings.TrimPrefix(msg, "\u00a0")
	if strings.Contains(msg, "unexpected EOF") {
		return pt.errorf(len(pt.data), "syntax error: unexpected end of file")
	}
	return pt.errorf(len(pt.data), "%s", msg)
}

// builder fills Jobs from the decoded proto and the positions of the tree.
type builder struct {
	pt    *posTable
	jobs  []*Job
	names []Pos
	errs  ErrorList
}

// offsets of the fields of one message that validation points at, by field
// number (0: not set); offset+1 so that 0 means absent.
type fieldOffs [13]int

func (o *fieldOffs) set(num, off int) {
	if num < len(o) {
		o[num] = off + 1
	}
}

// Field numbers (job.proto).
const (
	fJobName     = 1
	fJobImage    = 2
	fJobEnvs     = 4
	fJobVolumes  = 5
	fJobCPUs     = 8
	fJobMemoryMB = 9
	fEnvKey      = 1
	fVolCPath    = 1
	fVolHPath    = 2
)

// fieldNum is the schema number of a known, named field of a message (-1 if
// unknown), from the field names the checker already resolved.
func fieldNum(names []string, f *field) int {
	if f.kind != identName {
		return -1
	}
	for i, n := range names {
		if n == f.name {
			return i
		}
	}
	return -1
}

var (
	fileFields = []string{1: "job"}
	jobFields  = []string{1: "name", 2: "image", 3: "run_on_host", 4: "envs", 5: "volumes", 6: "command",
		7: "args", 8: "cpus", 9: "memory_mb", 10: "user", 11: "working_dir", 12: "restart"}
	envFields    = []string{1: "key", 2: "value"}
	volumeFields = []string{1: "container_path", 2: "host_path", 3: "read_only"}
)

// elems calls fn for each message value of f (one, or each of a list).
func elems(f *field, fn func(v *value)) {
	switch f.val.kind {
	case valMessage:
		fn(&f.val)
	case valList:
		for i := range f.val.sub {
			if f.val.sub[i].val.kind == valMessage {
				fn(&f.val.sub[i].val)
			}
		}
	}
}

// start is the position of a message value: its field name when written as
// `name { ... }`, its bracket inside a list.
func start(f *field, v *value) int {
	if f.val.kind == valList {
		return v.off
	}
	return f.off
}

func (b *builder) build(tree []field, pbs []*jobpb.Job) {
	k := 0
	for i := range tree {
		f := &tree[i]
		if fieldNum(fileFields, f) != 1 {
			continue
		}
		elems(f, func(v *value) {
			if k >= len(pbs) {
				return // cannot happen: prototext decoded the same input
			}
			b.job(start(f, v), v.sub, pbs[k])
			k++
		})
	}
}

func (b *builder) job(off int, fields []field, p *jobpb.Job) {
	j := &Job{
		Name:       p.GetName(),
		Image:      p.GetImage(),
		RunOnHost:  p.GetRunOnHost(),
		Command:    p.GetCommand(),
		Args:       p.GetArgs(),
		CPUs:       p.GetCpus(),
		MemoryMB:   p.GetMemoryMb(),
		User:       p.GetUser(),
		WorkingDir: p.GetWorkingDir(),
		Restart:    p.GetRestart(),
		Pos:        b.pt.pos(off),
	}
	envs, vols := p.GetEnvs(), p.GetVolumes()
	if len(envs) > 0 {
		j.Envs = make([]Env, 0, len(envs))
	}
	if len(vols) > 0 {
		j.Volumes = make([]Volume, 0, len(vols))
	}
	var offs fieldOffs
	for i := range fields {
		f := &fields[i]
		switch num := fieldNum(jobFields, f); num {
		case -1:
		case fJobEnvs:
			elems(f, func(v *value) {
				k := len(j.Envs)
				if k >= len(envs) {
					return
				}
				j.Envs = append(j.Envs, Env{Key: envs[k].GetKey(), Value: envs[k].GetValue(), Pos: b.pt.pos(start(f, v))})
				b.env(&j.Envs[k], v.sub)
			})
		case fJobVolumes:
			elems(f, func(v *value) {
				k := len(j.Volumes)
				if k >= len(vols) {
					return
				}
				j.Volumes = append(j.Volumes, Volume{
					ContainerPath: vols[k].GetContainerPath(),
					HostPath:      vols[k].GetHostPath(),
					ReadOnly:      vols[k].GetReadOnly(),
					Pos:           b.pt.pos(start(f, v)),
				})
				b.volume(&j.Volumes[k], v.sub)
			})
		default:
			offs.set(num, f.off)
		}
	}
	b.jobs = append(b.jobs, j)
	namePos := j.Pos
	if o := offs[fJobName]; o > 0 {
		namePos = b.pt.pos(o - 1)
	}
	b.names = append(b.names, namePos)
	b.validate(j, &offs)
}

// at is the position of a field when set, else of its message.
func (b *builder) at(offs *fieldOffs, num int, msg Pos) Pos {
	if o := offs[num]; o > 0 {
		return b.pt.pos(o - 1)
	}
	return msg
}

func (b *builder) add(p Pos, format string, args ...any) {
	b.errs = append(b.errs, Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) validate(j *Job, offs *fieldOffs) {
	switch {
	case j.Name == "":
		b.add(b.at(offs, fJobName, j.Pos), "job has no name")
	case !validServiceName(j.Name):
		b.add(b.at(offs, fJobName, j.Pos), "invalid job name %q: a job name becomes a compose service name and must match %s once lowercased", j.Name, ServiceNamePattern)
	}
	if j.Image == "" {
		if j.Name != "" {
			b.add(b.at(offs, fJobImage, j.Pos), "job %q has no image", j.Name)
		} else {
			b.add(b.at(offs, fJobImage, j.Pos), "job has no image")
		}
	}
	if c := j.CPUs; c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		b.add(b.at(offs, fJobCPUs, j.Pos), "cpus must be a finite number >= 0, not %v", c)
	}
	if j.MemoryMB < 0 {
		b.add(b.at(offs, fJobMemoryMB, j.Pos), "memory_mb must not be negative, not %d", j.MemoryMB)
	}
}

func (b *builder) env(e *Env, fields []field) {
	if e.Key != "" && strings.IndexByte(e.Key, '=') < 0 {
		return
	}
	var offs fieldOffs
	for i := range fields {
		if n := fieldNum(envFields, &fields[i]); n > 0 {
			offs.set(n, fields[i].off)
		}
	}
	p := b.at(&offs, fEnvKey, e.Pos)
	if e.Key == "" {
		b.add(p, "env key is empty")
	} else {
		b.add(p, "env key %q must not contain \"=\"", e.Key)
	}
}

func (b *builder) volume(v *Volume, fields []field) {
	cbad := v.ContainerPath == "" || v.ContainerPath[0] != '/' || hasDotDot(v.ContainerPath)
	hbad := hasDotDot(v.HostPath)
	if !cbad && !hbad {
		return
	}
	var offs fieldOffs
	for i := range fields {
		if n := fieldNum(volumeFields, &fields[i]); n > 0 {
			offs.set(n, fields[i].off)
		}
	}
	cp := b.at(&offs, fVolCPath, v.Pos)
	switch {
	case v.ContainerPath == "":
		b.add(cp, "volume has no container_path")
	case v.ContainerPath[0] != '/':
		b.add(cp, "container_path %q must be an absolute path", v.ContainerPath)
	case hasDotDot(v.ContainerPath):
		b.add(cp, "container_path %q must not contain \"..\" segments", v.ContainerPath)
	}
	if hbad {
		b.add(b.at(&offs, fVolHPath, v.Pos), "host_path %q must not contain \"..\" segments", v.HostPath)
	}
}

// validServiceName reports whether name, lowercased, matches
// ServiceNamePattern (without a regexp: it runs for every job).
func validServiceName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if i > 0 {
			ok = ok || c == '_' || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return name != ""
}

// hasDotDot reports whether p has a ".." segment ('/' or '\' separated).
func hasDotDot(p string) bool {
	for p != "" {
		i := strings.IndexAny(p, `/\`)
		seg := p
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if seg == ".." {
			return true
		}
	}
	return false
}

// duplicates reports jobs whose names collide once lowercased (compose
// service names are lowercase), at the name of each later one.
func duplicates(jobs []*Job, names []Pos) ErrorList {
	var errs ErrorList
	first := make(map[string]*Job, len(jobs))
	for i, j := range jobs {
		if j.Name == "" {
			continue
		}
		key := strings.ToLower(j.Name)
		prev, ok := first[key]
		if !ok {
			first[key] = j
			continue
		}
		if prev.Name == j.Name {
			errs = append(errs, Error{Pos: names[i], Msg: fmt.Sprintf("duplicate job name %q (also defined at %s)", j.Name, prev.Pos)})
		} else {
			errs = append(errs, Error{Pos: names[i], Msg: fmt.Sprintf("duplicate job name %q: same service name as %q (defined at %s)", j.Name, prev.Name, prev.Pos)})
		}
	}
	return errs
}

// sortErrors sorts by file, line and column, keeping the order of errors at
// the same position.
func sortErrors(errs ErrorList) {
	slices.SortStableFunc(errs, func(a, b Error) int {
		if c := strings.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
}
