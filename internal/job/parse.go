package job

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MaxFileSize is the largest job file read (16 MiB).
const MaxFileSize = 16 << 20

// ServiceNamePattern is the rule a job name must follow once lowercased: it
// becomes a compose service name.
const ServiceNamePattern = `^[a-z0-9][a-z0-9_.-]*$`

// ParseFile decodes and validates one job file with the built-in schema (see
// Schema.ParseFile).
func ParseFile(path string, data []byte) ([]*Job, ErrorList) { return builtin.ParseFile(path, data) }

// ParseFile decodes and validates one job file. path is only used in
// positions. It returns the jobs decoded and every problem found, including
// jobs of this file sharing a name; a file with a syntax error yields no jobs
// and only that error.
func (s *Schema) ParseFile(path string, data []byte) ([]*Job, ErrorList) {
	r := s.parseFile(path, data)
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

func parseFile(file string, data []byte) parsed { return builtin.parseFile(file, data) }

func (s *Schema) parseFile(file string, data []byte) parsed {
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
	c := &checker{pt: pt, schema: s}
	c.message(s.file, tree)

	msg := dynamicpb.NewMessage(s.file)
	if err := (prototext.UnmarshalOptions{DiscardUnknown: true, AllowPartial: !s.required}).Unmarshal(data, msg); err != nil {
		// The checker reports all prototext would, and more precisely; keep
		// prototext's own error only when it says something new.
		e := protoError(pt, err)
		if !slices.ContainsFunc(c.errs, func(x Error) bool { return x.Pos == e.Pos }) {
			return parsed{errs: append(c.errs, e), fallback: true}
		}
		return parsed{errs: c.errs}
	}
	b := builder{pt: pt, s: s, errs: c.errs}
	b.build(tree, msg.Get(s.jobField).List())
	if !s.Builtin {
		if fx := s.fileExtra(msg); fx != nil {
			for _, j := range b.jobs {
				j.FileExtra = fx
			}
		}
	}
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

// builder fills Jobs from the decoded message and the positions of the tree.
type builder struct {
	pt    *posTable
	s     *Schema
	jobs  []*Job
	names []Pos
	errs  ErrorList
}

// offsets of the fields of one message that validation points at, by role
// (0: not set); offset+1 so that 0 means absent.
type fieldOffs [numJobRoles]int

func (o *fieldOffs) set(role, off int) {
	if role > 0 && role < len(o) {
		o[role] = off + 1
	}
}

// role is the role of a named field of a message (0 if clocal does not map
// it), from the field names the checker already resolved.
func role(roles map[string]int, f *field) int {
	if f.kind != identName {
		return 0
	}
	return roles[f.name]
}

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

func (b *builder) build(tree []field, msgs protoreflect.List) {
	k := 0
	name := b.s.jobField.TextName()
	for i := range tree {
		f := &tree[i]
		if f.kind != identName || f.name != name {
			continue
		}
		elems(f, func(v *value) {
			if k >= msgs.Len() {
				return // cannot happen: prototext decoded the same input
			}
			b.job(start(f, v), v.sub, msgs.Get(k).Message())
			k++
		})
	}
}

// Readers of mapped fields: a field the schema lacks reads as its zero value.

func getString(m protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	if fd == nil {
		return ""
	}
	return m.Get(fd).String()
}

func getStrings(m protoreflect.Message, fd protoreflect.FieldDescriptor) []string {
	if fd == nil {
		return nil
	}
	l := m.Get(fd).List()
	if l.Len() == 0 {
		return nil
	}
	out := make([]string, l.Len())
	for i := range out {
		out[i] = l.Get(i).String()
	}
	return out
}

func getFloat(m protoreflect.Message, fd protoreflect.FieldDescriptor) float64 {
	if fd == nil {
		return 0
	}
	v := m.Get(fd)
	switch fd.Kind() {
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return v.Float()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return float64(v.Uint())
	}
	return float64(v.Int())
}

func getInt(m protoreflect.Message, fd protoreflect.FieldDescriptor) int64 {
	if fd == nil {
		return 0
	}
	v := m.Get(fd)
	switch fd.Kind() {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u := v.Uint()
		if u > math.MaxInt64 {
			return math.MaxInt64
		}
		return int64(u)
	}
	return v.Int()
}

func getList(m protoreflect.Message, fd protoreflect.FieldDescriptor) protoreflect.List {
	if fd == nil {
		return emptyList{}
	}
	return m.Get(fd).List()
}

type emptyList struct{ protoreflect.List }

func (emptyList) Len() int { return 0 }

func (b *builder) job(off int, fields []field, m protoreflect.Message) {
	s := b.s
	jf := &s.jobFields
	j := &Job{
		Name:       getString(m, jf[rName]),
		Image:      getString(m, jf[rImage]),
		RunOnHost:  getString(m, jf[rHost]),
		Command:    getStrings(m, jf[rCommand]),
		Args:       getStrings(m, jf[rArgs]),
		CPUs:       getFloat(m, jf[rCPUs]),
		MemoryMB:   getInt(m, jf[rMemoryMB]),
		User:       getString(m, jf[rUser]),
		WorkingDir: getString(m, jf[rWorkingDir]),
		Restart:    getString(m, jf[rRestart]),
		Pos:        b.pt.pos(off),
	}
	var envs protoreflect.List = emptyList{}
	var envMap protoreflect.Map
	if s.envMap {
		envMap = m.Get(jf[rEnvs]).Map()
	} else {
		envs = getList(m, jf[rEnvs])
	}
	vols := getList(m, jf[rVolumes])
	if envs.Len() > 0 {
		j.Envs = make([]Env, 0, envs.Len())
	}
	if vols.Len() > 0 {
		j.Volumes = make([]Volume, 0, vols.Len())
	}
	var offs fieldOffs
	for i := range fields {
		f := &fields[i]
		switch r := role(s.jobRoles, f); r {
		case 0:
		case rEnvs:
			if envMap != nil {
				elems(f, func(v *value) { b.mapEnv(j, envMap, start(f, v), v.sub) })
				break
			}
			elems(f, func(v *value) {
				k := len(j.Envs)
				if k >= envs.Len() {
					return
				}
				e := envs.Get(k).Message()
				j.Envs = append(j.Envs, Env{Key: getString(e, s.envFields[1]), Value: getString(e, s.envFields[2]), Pos: b.pt.pos(start(f, v))})
				b.env(&j.Envs[k], v.sub)
			})
		case rVolumes:
			elems(f, func(v *value) {
				k := len(j.Volumes)
				if k >= vols.Len() {
					return
				}
				vm := vols.Get(k).Message()
				ro := false
				if fd := s.volFields[3]; fd != nil {
					ro = vm.Get(fd).Bool()
				}
				j.Volumes = append(j.Volumes, Volume{
					ContainerPath: getString(vm, s.volFields[1]),
					HostPath:      getString(vm, s.volFields[2]),
					ReadOnly:      ro,
					Pos:           b.pt.pos(start(f, v)),
				})
				b.volume(&j.Volumes[k], v.sub)
			})
		default:
			offs.set(r, f.off)
		}
	}
	if !s.Builtin {
		j.Extra = s.extra(m)
	}
	b.jobs = append(b.jobs, j)
	namePos := j.Pos
	if o := offs[rName]; o > 0 {
		namePos = b.pt.pos(o - 1)
	}
	b.names = append(b.names, namePos)
	b.validate(j, &offs)
}

// mapEnv adds one entry of a map<string, string> envs field: the key as written in the
// entry, the value the decoded map holds for it (the last one, as production reads it).
func (b *builder) mapEnv(j *Job, m protoreflect.Map, off int, fields []field) {
	for i := range fields {
		f := &fields[i]
		if f.kind != identName || f.name != "key" || f.val.kind != valString {
			continue
		}
		key, err := strconv.Unquote(b.pt.src[f.val.off:f.val.end])
		if err != nil {
			key = strings.Trim(b.pt.src[f.val.off:f.val.end], `"'`)
		}
		e := Env{Key: key, Pos: b.pt.pos(off)}
		if v := m.Get(protoreflect.ValueOfString(key).MapKey()); v.IsValid() {
			e.Value = v.String()
		}
		j.Envs = append(j.Envs, e)
		b.env(&j.Envs[len(j.Envs)-1], fields)
		return
	}
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
		b.add(b.at(offs, rName, j.Pos), "job has no name")
	case !validServiceName(j.Name):
		b.add(b.at(offs, rName, j.Pos), "invalid job name %q: a job name becomes a compose service name and must match %s once lowercased", j.Name, ServiceNamePattern)
	}
	if j.Image == "" {
		if j.Name != "" {
			b.add(b.at(offs, rImage, j.Pos), "job %q has no image", j.Name)
		} else {
			b.add(b.at(offs, rImage, j.Pos), "job has no image")
		}
	}
	if c := j.CPUs; c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
		b.add(b.at(offs, rCPUs, j.Pos), "cpus must be a finite number >= 0, not %v", c)
	}
	if j.MemoryMB < 0 {
		b.add(b.at(offs, rMemoryMB, j.Pos), "memory_mb must not be negative, not %d", j.MemoryMB)
	}
}

func (b *builder) env(e *Env, fields []field) {
	if e.Key != "" && strings.IndexByte(e.Key, '=') < 0 {
		return
	}
	var offs fieldOffs
	for i := range fields {
		offs.set(role(b.s.envRoles, &fields[i]), fields[i].off)
	}
	p := b.at(&offs, 1, e.Pos)
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
		offs.set(role(b.s.volRoles, &fields[i]), fields[i].off)
	}
	cp := b.at(&offs, 1, v.Pos)
	switch {
	case v.ContainerPath == "":
		b.add(cp, "volume has no container_path")
	case v.ContainerPath[0] != '/':
		b.add(cp, "container_path %q must be an absolute path", v.ContainerPath)
	case hasDotDot(v.ContainerPath):
		b.add(cp, "container_path %q must not contain \"..\" segments", v.ContainerPath)
	}
	if hbad {
		b.add(b.at(&offs, 2, v.Pos), "host_path %q must not contain \"..\" segments", v.HostPath)
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
