package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/clocal-dev/clocal/internal/job/jobpb"
)

// A Schema is the protobuf schema job files are read with: the message of a whole file and
// the fields clocal maps, found by name. The built-in schema is jobpb/job.proto; a workspace
// may name production's own .proto instead (CompileSchema), whose messages may hold any
// number of other fields: they are checked like the mapped ones (types, unknown names) and
// kept in Job.Extra.
type Schema struct {
	// Source says where the schema comes from: "built-in" or the .proto path and message.
	Source string
	// Builtin is true for the built-in schema (the unknown-field error then says how to
	// point clocal at production's .proto).
	Builtin bool

	file protoreflect.MessageDescriptor
	// jobField is the repeated message field of the file holding the jobs ("job").
	jobField protoreflect.FieldDescriptor
	job      protoreflect.MessageDescriptor
	env      protoreflect.MessageDescriptor // nil when the job has no envs field
	volume   protoreflect.MessageDescriptor // nil when the job has no volumes field

	// The mapped fields, by role (nil when the schema has no such field).
	jobFields [numJobRoles]protoreflect.FieldDescriptor
	envFields [3]protoreflect.FieldDescriptor // 1: key, 2: value
	volFields [4]protoreflect.FieldDescriptor // 1: container_path, 2: host_path, 3: read_only

	// roles maps a field's text name to its role, per message (job, env, volume).
	jobRoles, envRoles, volRoles map[string]int
	// envMap is set when the job's envs are a map<string, string> (read in text order).
	envMap bool
	// required is set when a message of the schema has proto2 required fields: only then
	// does decoding check them (a walk of every decoded message).
	required bool
}

// Roles of the job fields clocal maps: the names of the built-in schema.
const (
	rName = iota + 1
	rImage
	rHost
	rEnvs
	rVolumes
	rCommand
	rArgs
	rCPUs
	rMemoryMB
	rUser
	rWorkingDir
	rRestart
	numJobRoles
)

// JobFieldNames are the job fields clocal reads, by role (the built-in schema's names).
var JobFieldNames = []string{rName: "name", rImage: "image", rHost: "run_on_host", rEnvs: "envs",
	rVolumes: "volumes", rCommand: "command", rArgs: "args", rCPUs: "cpus", rMemoryMB: "memory_mb",
	rUser: "user", rWorkingDir: "working_dir", rRestart: "restart"}

var (
	envFieldNames = []string{1: "key", 2: "value"}
	volFieldNames = []string{1: "container_path", 2: "host_path", 3: "read_only"}
)

var builtin = func() *Schema {
	s, err := NewSchema((&jobpb.JobFile{}).ProtoReflect().Descriptor(), nil)
	if err != nil {
		panic(err)
	}
	s.Source, s.Builtin = "built-in", true
	return s
}()

// Builtin returns the built-in schema (jobpb/job.proto).
func Builtin() *Schema { return builtin }

// FileMessage is the descriptor of a whole job file.
func (s *Schema) FileMessage() protoreflect.MessageDescriptor { return s.file }

// NewSchema maps the fields of file (the message of a whole job file) by name. rename maps
// a clocal field name ("run_on_host", "envs.key", "volumes.host_path") to the name the
// schema uses for it. The file must have a repeated message field "job" (or exactly one
// repeated message field); the job message must have string fields for name and image; every
// other mapped field is optional, and must have the expected type when present.
func NewSchema(file protoreflect.MessageDescriptor, rename map[string]string) (*Schema, error) {
	s := &Schema{file: file}
	var errs []error
	bad := func(fd protoreflect.Descriptor, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s", descPos(fd), fmt.Sprintf(format, args...)))
	}
	name := func(clocal string) string {
		if n, ok := rename[clocal]; ok {
			return n
		}
		if i := strings.LastIndexByte(clocal, '.'); i >= 0 {
			return clocal[i+1:]
		}
		return clocal
	}
	fields := file.Fields()
	s.jobField = fields.ByTextName(name("job"))
	if s.jobField == nil {
		var cands []protoreflect.FieldDescriptor
		for i := 0; i < fields.Len(); i++ {
			if fd := fields.Get(i); fd.IsList() && fd.Kind() == protoreflect.MessageKind {
				cands = append(cands, fd)
			}
		}
		if len(cands) != 1 {
			return nil, fmt.Errorf("%smessage %s has no repeated message field %q holding the jobs (name it with fields: {job: ...})", descPos(file), file.FullName(), name("job"))
		}
		s.jobField = cands[0]
	}
	if !s.jobField.IsList() || s.jobField.Kind() != protoreflect.MessageKind || s.jobField.IsMap() {
		return nil, fmt.Errorf("%sfield %s must be a repeated message (the jobs of a file)", descPos(s.jobField), s.jobField.FullName())
	}
	s.job = s.jobField.Message()

	s.jobRoles = map[string]int{}
	for role := rName; role < numJobRoles; role++ {
		clocal := JobFieldNames[role]
		fd := s.job.Fields().ByTextName(name(clocal))
		if fd == nil {
			if role == rName || role == rImage {
				errs = append(errs, fmt.Errorf("%smessage %s has no field %q: clocal needs the job's %s", descPos(s.job), s.job.FullName(), name(clocal), clocal))
			}
			continue
		}
		want, ok := jobFieldKind(role, fd)
		if !ok {
			bad(fd, "field %s: clocal reads it as the job's %s and needs %s", fd.FullName(), clocal, want)
			continue
		}
		s.jobFields[role] = fd
		s.jobRoles[fd.TextName()] = role
	}
	sub := func(role int, names []string, out []protoreflect.FieldDescriptor, roles *map[string]int) protoreflect.MessageDescriptor {
		fd := s.jobFields[role]
		if fd == nil {
			return nil
		}
		md := fd.Message()
		*roles = map[string]int{}
		for r := 1; r < len(names); r++ {
			clocal := JobFieldNames[role] + "." + names[r]
			f := md.Fields().ByTextName(name(clocal))
			if f == nil {
				if r == 1 {
					errs = append(errs, fmt.Errorf("%smessage %s has no field %q: clocal needs the %s", descPos(md), md.FullName(), name(clocal), clocal))
				}
				continue
			}
			wantKind := protoreflect.StringKind
			if names[r] == "read_only" {
				wantKind = protoreflect.BoolKind
			}
			if f.Kind() != wantKind || f.IsList() {
				bad(f, "field %s: clocal reads it as the %s and needs a singular %s", f.FullName(), clocal, strings.ToLower(strings.TrimSuffix(wantKind.String(), "Kind")))
				continue
			}
			out[r] = f
			(*roles)[f.TextName()] = r
		}
		return md
	}
	if fd := s.jobFields[rEnvs]; fd != nil && fd.IsMap() {
		s.envMap = true
		s.envRoles = map[string]int{"key": 1, "value": 2}
	} else {
		s.env = sub(rEnvs, envFieldNames, s.envFields[:], &s.envRoles)
	}
	s.volume = sub(rVolumes, volFieldNames, s.volFields[:], &s.volRoles)
	for k := range rename {
		if !knownRename(k) {
			errs = append(errs, fmt.Errorf("fields: %q is not a field clocal reads (want job, %s, envs.key, envs.value, volumes.container_path, volumes.host_path or volumes.read_only)", k, strings.Join(JobFieldNames[1:], ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.Source = string(file.FullName())
	s.required = hasRequired(file, map[protoreflect.FullName]bool{})
	return s, nil
}

// hasRequired reports whether md or a message it holds has a required field.
func hasRequired(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			return true
		}
		if fd.Message() != nil && hasRequired(fd.Message(), seen) {
			return true
		}
	}
	return false
}

func knownRename(k string) bool {
	if k == "job" {
		return true
	}
	for _, n := range JobFieldNames[1:] {
		if k == n {
			return true
		}
	}
	for _, n := range envFieldNames[1:] {
		if k == "envs."+n {
			return true
		}
	}
	for _, n := range volFieldNames[1:] {
		if k == "volumes."+n {
			return true
		}
	}
	return false
}

// jobFieldKind checks the type of a mapped job field, returning what it must be.
func jobFieldKind(role int, fd protoreflect.FieldDescriptor) (string, bool) {
	k := fd.Kind()
	switch role {
	case rEnvs:
		if fd.IsMap() { // map<string, string> envs: the same text as repeated {key, value}
			return "a repeated message or a map<string, string>", fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Kind() == protoreflect.StringKind
		}
		return "a repeated message or a map<string, string>", fd.IsList() && k == protoreflect.MessageKind
	case rVolumes:
		return "a repeated message", fd.IsList() && !fd.IsMap() && k == protoreflect.MessageKind
	case rCommand, rArgs:
		return "a repeated string", fd.IsList() && !fd.IsMap() && k == protoreflect.StringKind
	case rCPUs:
		return "a number", !fd.IsList() && (k == protoreflect.DoubleKind || k == protoreflect.FloatKind || isIntKind(k))
	case rMemoryMB:
		return "an integer", !fd.IsList() && isIntKind(k)
	}
	return "a singular string", !fd.IsList() && k == protoreflect.StringKind
}

func isIntKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

// descPos is "FILE:LINE:COL: " of a descriptor in its .proto, "" when unknown.
func descPos(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return ""
	}
	loc := f.SourceLocations().ByDescriptor(d)
	if loc.StartLine == 0 && loc.StartColumn == 0 && loc.EndLine == 0 {
		return f.Path() + ": "
	}
	return fmt.Sprintf("%s:%d:%d: ", f.Path(), loc.StartLine+1, loc.StartColumn+1)
}

// where names a message of the schema in "unknown field ... in X".
func (s *Schema) where(md protoreflect.MessageDescriptor) string {
	switch md.FullName() {
	case s.file.FullName():
		return "file"
	case s.job.FullName():
		return "job"
	}
	if s.env != nil && md.FullName() == s.env.FullName() {
		return "env"
	}
	if s.volume != nil && md.FullName() == s.volume.FullName() {
		return "volume"
	}
	return string(md.Name())
}

// unknownHint is appended to an unknown field error.
func (s *Schema) unknownHint() string {
	if s.Builtin {
		return " (clocal read it with its built-in schema; if production's .proto defines this field, name that .proto in clocal.yaml: schema: {proto: path/to/job.proto, message: package.JobFile})"
	}
	return ""
}

// SchemaConfig names a .proto and the message of a whole job file.
type SchemaConfig struct {
	// Proto is the .proto file, relative to Dir (or absolute).
	Proto string
	// Message is the full name of the file message, e.g. "prod.deploy.JobFile".
	Message string
	// ImportPaths are extra folders imports are looked up in (relative to Dir); the folder
	// of Proto and Dir are always searched, and google/protobuf/*.proto are built in.
	ImportPaths []string
	// Fields renames the fields clocal reads (see NewSchema).
	Fields map[string]string
	// Dir is the folder relative paths start from (the workspace root).
	Dir string
}

// CompileSchema compiles a .proto (with protocompile: no protoc needed) and maps the fields
// of its file message. Errors in the .proto are reported as FILE:LINE:COL.
func CompileSchema(ctx context.Context, c SchemaConfig) (*Schema, error) {
	if c.Proto == "" || c.Message == "" {
		return nil, errors.New("schema: both proto and message are required")
	}
	proto := c.Proto
	if !filepath.IsAbs(proto) {
		proto = filepath.Join(c.Dir, filepath.FromSlash(proto))
	}
	if _, err := os.Stat(proto); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	// The file is compiled under its path relative to Dir when it is inside (so errors
	// name it as the user wrote it); its own folder is searched for imports too.
	name, dirs := filepath.Base(proto), []string{filepath.Dir(proto)}
	if c.Dir != "" {
		if r, err := filepath.Rel(c.Dir, proto); err == nil && !strings.HasPrefix(r, "..") {
			name, dirs = filepath.ToSlash(r), []string{c.Dir, filepath.Dir(proto)}
		}
	}
	for _, p := range c.ImportPaths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.Dir, filepath.FromSlash(p))
		}
		dirs = append(dirs, p)
	}
	var errs []error
	comp := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: dirs}),
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			errs = append(errs, err)
			return nil
		}, nil),
	}
	files, err := comp.Compile(ctx, name)
	if err != nil {
		if len(errs) == 0 {
			errs = append(errs, err)
		}
		return nil, fmt.Errorf("schema %s:\n%w", c.Proto, errors.Join(errs...))
	}
	md, err := findMessage(files, c.Message)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", c.Proto, err)
	}
	s, err := NewSchema(md, c.Fields)
	if err != nil {
		return nil, fmt.Errorf("schema %s, message %s:\n%w", c.Proto, c.Message, err)
	}
	s.Source = filepath.ToSlash(c.Proto) + " (" + c.Message + ")"
	return s, nil
}

func findMessage(files linker.Files, name string) (protoreflect.MessageDescriptor, error) {
	if d, err := files.AsResolver().FindDescriptorByName(protoreflect.FullName(name)); err == nil && d != nil {
		if md, ok := d.(protoreflect.MessageDescriptor); ok {
			return md, nil
		}
		return nil, fmt.Errorf("%s is not a message", name)
	}
	// Suggest the messages that look like a job file.
	var cands []string
	for _, f := range files {
		msgs := f.Messages()
		for i := 0; i < msgs.Len(); i++ {
			cands = append(cands, string(msgs.Get(i).FullName()))
		}
	}
	sort.Strings(cands)
	return nil, fmt.Errorf("no message %q (the file defines %s)", name, strings.Join(cands, ", "))
}

// extra returns the fields of a job message that are set and that clocal does not map, as a
// JSON object (proto field names); nil when there are none. An envs or volumes element with
// fields clocal does not map is kept with those fields, under its key (container_path):
// `envs { key: "DB_PASSWORD" value: "..." secret: true }` shows as
// {"envs": {"DB_PASSWORD": {"secret": true}}}.
func (s *Schema) extra(m protoreflect.Message) json.RawMessage {
	var c *dynamicpb.Message
	elems := map[string]map[string]json.RawMessage{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch r := s.jobRoles[fd.TextName()]; {
		case r == rEnvs && !s.envMap && fd.IsList() && fd.Message() != nil:
			extraElems(elems, fd, v.List(), s.envRoles, s.envFields[1])
		case r == rVolumes && fd.IsList() && fd.Message() != nil:
			extraElems(elems, fd, v.List(), s.volRoles, s.volFields[1])
		case r == 0:
			if c == nil {
				c = dynamicpb.NewMessage(s.job)
			}
			c.Set(fd, v)
		}
		return true
	})
	if len(elems) == 0 {
		if c == nil {
			return nil
		}
		return toJSON(c) // in field number order
	}
	obj := map[string]json.RawMessage{}
	if c != nil {
		if json.Unmarshal(toJSON(c), &obj) != nil {
			return toJSON(c)
		}
	}
	for name, byID := range elems {
		data, _ := json.Marshal(byID)
		obj[name] = data
	}
	data, _ := json.Marshal(obj) // sorted keys
	return data
}

// extraElems adds to out[fd's name], under its id field's value, the fields clocal does not
// map (roles) of every element of list that has any.
func extraElems(out map[string]map[string]json.RawMessage, fd protoreflect.FieldDescriptor, list protoreflect.List, roles map[string]int, id protoreflect.FieldDescriptor) {
	for i := 0; i < list.Len(); i++ {
		e := list.Get(i).Message()
		var x *dynamicpb.Message
		e.Range(func(efd protoreflect.FieldDescriptor, ev protoreflect.Value) bool {
			if roles[efd.TextName()] != 0 {
				return true
			}
			if x == nil {
				x = dynamicpb.NewMessage(fd.Message())
			}
			x.Set(efd, ev)
			return true
		})
		if x == nil {
			continue
		}
		key := strconv.Itoa(i)
		if id != nil && e.Has(id) {
			key = e.Get(id).String()
		}
		name := string(fd.Name())
		if out[name] == nil {
			out[name] = map[string]json.RawMessage{}
		}
		out[name][key] = toJSON(x)
	}
}

// fileExtra returns the fields of a whole file's message besides the jobs (cluster: "eu-1"),
// as a JSON object; nil when there are none.
func (s *Schema) fileExtra(m protoreflect.Message) json.RawMessage {
	var c *dynamicpb.Message
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd == s.jobField {
			return true
		}
		if c == nil {
			c = dynamicpb.NewMessage(s.file)
		}
		c.Set(fd, v)
		return true
	})
	if c == nil {
		return nil
	}
	return toJSON(c)
}

func toJSON(c *dynamicpb.Message) json.RawMessage {
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"text": prototext.MarshalOptions{}.Format(c)})
	}
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return json.RawMessage(data)
	}
	return json.RawMessage(b.Bytes())
}
