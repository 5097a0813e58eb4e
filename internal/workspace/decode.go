package workspace

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder is a strict, error-collecting YAML decoder: it walks a yaml.Node tree into a struct
// using the `yaml` tags, and records every unknown key (with a "did you mean" suggestion),
// duplicate key and wrongly typed value as "FILE:LINE: PATH: message" instead of stopping at the
// first one. It is the equivalent of yaml.v3's KnownFields(true) with messages a person can act on.
type decoder struct {
	file   string // workspace-relative, slash separated
	errs   []error
	lines  map[string]int  // path ("depends_on[1]", "overrides.web.env") -> line
	failed map[string]bool // paths whose value had the wrong type (left at the zero value)
}

// nodeDecoder is implemented by types that decode themselves.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// Line records the line of a key in its file (filled for fields of type Line named <Key>Line).
type posError struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *posError) Error() string {
	switch {
	case e.Line == 0:
		return e.File + ": " + e.Msg
	case e.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, &posError{File: d.file, Line: line, Msg: msg})
}

// decodeFile decodes data into out (a pointer to a struct). An empty document is valid.
func decodeFile(file string, data []byte, out any, lines map[string]int) []error {
	d := &decoder{file: file, lines: lines, failed: map[string]bool{}}
	defer func() {
		for p := range d.failed {
			if lines != nil {
				lines["!"+p] = 1
			}
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if i := strings.Index(rest, ":"); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					line, msg = n, strings.TrimSpace(rest[i+1:])
				}
			}
		}
		d.errorf(line, "", "invalid YAML: %s", msg)
		return d.errs
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil
	}
	d.decode(doc.Content[0], reflect.ValueOf(out).Elem(), "", doc.Content[0].Line)
	return d.errs
}

// describe names what a node is, for "got ..." messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return describe(n.Alias)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		default:
			return strconv.Quote(n.Value)
		}
	}
	return "an unknown value"
}

// want names what a Go type expects.
func want(t reflect.Type, hint string) string {
	if hint != "" {
		return hint
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.Map:
		return "a mapping of " + plural(t.Elem())
	case reflect.Struct, reflect.Pointer:
		return "a mapping"
	}
	return t.String()
}

func plural(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "strings"
	case reflect.Int, reflect.Int64:
		return "integers"
	case reflect.Bool:
		return "booleans"
	}
	return "mappings"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode decodes n into v. line is the line to report type errors at (the key's line for a field
// value, the node's own line for list elements).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, line int) {
	d.decodeHint(n, v, path, line, "")
}

func (d *decoder) decodeHint(n *yaml.Node, v reflect.Value, path string, line int, hint string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.lines != nil && path != "" {
		d.lines[path] = line
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // unset
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n, path)
			return
		}
	}
	t := v.Type()
	bad := func() {
		d.errorf(line, path, "expected %s, got %s", want(t, hint), describe(n))
		if d.failed != nil {
			d.failed[path] = true
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		d.decodeHint(n, nv.Elem(), path, line, hint)
		v.Set(nv)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad()
			return
		}
		d.decodeStruct(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!bool" {
			bad()
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			bad()
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			bad()
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil {
			bad()
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad()
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decodeHint(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i), c.Line, "")
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad()
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.errorf(k.Line, path, "expected a name as key, got %s", describe(k))
				continue
			}
			if seen[k.Value] {
				d.errorf(k.Line, path, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			ev := reflect.New(t.Elem()).Elem()
			d.decodeHint(val, ev, join(path, k.Value), k.Line, "")
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
		}
		v.Set(m)
	default:
		bad()
	}
}

type fieldInfo struct {
	index int
	hint  string
	line  int // index of a sibling int field named <Name>Line, or -1
}

func structFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		fi := fieldInfo{index: i, hint: f.Tag.Get("want"), line: -1}
		if lf, ok := t.FieldByName(f.Name + "Line"); ok && lf.Type.Kind() == reflect.Int {
			fi.line = lf.Index[0]
		}
		fields[name] = fi
		names = append(names, name)
	}
	sort.Strings(names)
	return fields, names
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields, names := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "expected a key, got %s", describe(k))
			continue
		}
		fi, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k.Line, path, "%s", msg)
			continue
		}
		if seen[k.Value] {
			d.errorf(k.Line, path, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		if fi.line >= 0 {
			v.Field(fi.line).SetInt(int64(k.Line))
		}
		d.decodeHint(val, v.Field(fi.index), join(path, k.Value), k.Line, fi.hint)
	}
}

// Env is an environment mapping. Values may be written as any YAML scalar (`PORT: 8080`,
// `DEBUG: true`); they are kept as written. null means the empty string.
type Env map[string]string

func (e *Env) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping of names to values, got %s", describe(n))
		return
	}
	m := Env{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		switch {
		case k.Kind != yaml.ScalarNode || k.Value == "":
			d.errorf(k.Line, path, "expected a variable name as key, got %s", describe(k))
		case val.Kind != yaml.ScalarNode:
			d.errorf(k.Line, join(path, k.Value), "expected a string value, got %s", describe(val))
		default:
			if _, dup := m[k.Value]; dup {
				d.errorf(k.Line, path, "duplicate key %q", k.Value)
				continue
			}
			if val.ShortTag() == "!!null" {
				m[k.Value] = ""
			} else {
				m[k.Value] = val.Value
			}
		}
	}
	*e = m
}

// StringList is a list of strings that may also be written as one string (healthcheck test).
type StringList []string

func (s *StringList) decodeNode(d *decoder, n *yaml.Node, path string) {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		*s = StringList{n.Value}
	case n.Kind == yaml.SequenceNode:
		var out StringList
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!null" {
				d.errorf(c.Line, fmt.Sprintf("%s[%d]", path, i), "expected a string, got %s", describe(c))
				continue
			}
			out = append(out, c.Value)
		}
		*s = out
	default:
		d.errorf(n.Line, path, "expected a string or a list of strings, got %s", describe(n))
	}
}
