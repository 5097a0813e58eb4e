package job

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The checker walks the scanned tree against the schema (its descriptors) and
// reports what prototext would refuse — unknown fields, missing ':' before a
// scalar, a singular field set twice, a value of the wrong type — but all of
// them, where prototext stops at the first.

type checker struct {
	pt     *posTable
	schema *Schema
	errs   ErrorList
	hinted bool // the unknown-field hint was given
}

func (c *checker) where(md protoreflect.MessageDescriptor) string { return c.schema.where(md) }

func (c *checker) errorf(off int, format string, args ...any) {
	c.errs = append(c.errs, c.pt.errorf(off, format, args...))
}

// resolve finds the descriptor of a field, reporting unknown fields.
func (c *checker) resolve(md protoreflect.MessageDescriptor, f *field) protoreflect.FieldDescriptor {
	fds := md.Fields()
	switch f.kind {
	case identName:
		if fd := fds.ByTextName(f.name); fd != nil {
			return fd
		}
	case numberName:
		if n, err := strconv.Atoi(f.name); err == nil {
			if fd := fds.ByNumber(protoreflect.FieldNumber(n)); fd != nil {
				c.errorf(f.off, "field number %s used as a name in %s: write %q", f.name, c.where(md), fd.TextName())
				return nil
			}
		}
	}
	msg := fmt.Sprintf("unknown field %q in %s", f.name, c.where(md))
	if s := suggest(f.name, md); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if !c.hinted && f.kind == identName {
		// Said once per file: the field may be production's, unknown to the built-in schema.
		msg += c.schema.unknownHint()
		c.hinted = true
	}
	c.errs = append(c.errs, Error{Pos: c.pt.pos(f.off), Msg: msg})
	return nil
}

func (c *checker) message(md protoreflect.MessageDescriptor, fields []field) {
	fds := md.Fields()
	var seenBuf [16]int // offset+1 of the first occurrence of each singular field
	seen := seenBuf[:0]
	if n := fds.Len(); n <= len(seenBuf) {
		seen = seenBuf[:n]
	} else {
		seen = make([]int, n)
	}
	for i := range fields {
		f := &fields[i]
		fd := c.resolve(md, f)
		if fd == nil {
			continue
		}
		if fd.IsMap() {
			continue // not in the schema; prototext reports what is wrong
		}
		isMsg := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
		if !isMsg && f.val.kind == valMessage {
			// Where prototext stops: at the name for want of a ':'.
			off := f.val.off
			if !f.hasSep {
				off = f.off
			}
			c.errorf(off, "field %q takes %s, not a message", f.name, want(fd))
			continue
		}
		if !isMsg && !f.hasSep {
			c.errorf(f.off, "missing \":\" after field %q", f.name)
			continue
		}
		if !fd.IsList() {
			if first := seen[fd.Index()]; first > 0 {
				p := c.pt.pos(first - 1)
				c.errorf(f.off, "field %q is set twice in %s (first at %d:%d)", f.name, c.where(md), p.Line, p.Col)
				continue
			}
			seen[fd.Index()] = f.off + 1
			if f.val.kind == valList {
				c.errorf(f.val.off, "field %q takes one value, not a list", f.name)
				continue
			}
			c.value(fd, &f.val)
			continue
		}
		if f.val.kind == valList {
			for j := range f.val.sub {
				c.value(fd, &f.val.sub[j].val)
			}
			continue
		}
		c.value(fd, &f.val)
	}
}

// value checks one value (not a list) of field fd.
func (c *checker) value(fd protoreflect.FieldDescriptor, v *value) {
	kind := fd.Kind()
	if kind == protoreflect.MessageKind || kind == protoreflect.GroupKind {
		if v.kind != valMessage {
			found := "a list"
			if v.kind != valList {
				found = snippet(c.pt.data[v.off:v.end])
			}
			c.errorf(v.off, "field %q takes a message { ... }, found %s", fd.TextName(), found)
			return
		}
		c.message(fd.Message(), v.sub)
		return
	}
	if v.kind == valMessage {
		c.errorf(v.off, "field %q takes %s, not a message", fd.TextName(), want(fd))
		return
	}
	if !scalarOK(fd, v, c.pt.data, c.pt.src) {
		c.errorf(v.off, "invalid value %s for field %q: want %s", snippet(c.pt.data[v.off:v.end]), fd.TextName(), want(fd))
		return
	}
	if v.kind == valString && kind == protoreflect.StringKind {
		if v.badUTF8 {
			c.errorf(v.off, "string value of field %q is not valid UTF-8", fd.TextName())
		} else if v.hasNUL {
			c.errorf(v.off, "string value of field %q contains a NUL character", fd.TextName())
		}
	}
}

func want(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "a quoted string"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.EnumKind:
		return "an enum value"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a non-negative integer"
	}
	return "an integer"
}

var boolLits = map[string]bool{"t": true, "true": true, "True": true, "f": false, "false": false, "False": false}

var floatLits = map[string]bool{"nan": true, "inf": true, "infinity": true, "-inf": true, "-infinity": true}

// scalarOK reports whether prototext accepts v for fd (the rules of the text
// decoder's Token.Bool, Int64, Float64, ... methods).
func scalarOK(fd protoreflect.FieldDescriptor, v *value, raw []byte, data string) bool {
	num := v.numText(raw, data)
	isInt := v.kind == valNumber && v.numKind&numFloat == 0
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return v.kind == valString
	case protoreflect.BoolKind:
		switch v.kind {
		case valLiteral:
			_, ok := boolLits[data[v.off:v.end]]
			return ok
		case valNumber:
			n, err := strconv.ParseUint(num, 0, 64)
			return err == nil && n <= 1
		}
		return false
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		_, err := strconv.ParseInt(num, 0, 32)
		return isInt && err == nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		_, err := strconv.ParseInt(num, 0, 64)
		return isInt && err == nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		_, err := strconv.ParseUint(num, 0, 32)
		return isInt && !v.neg && err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		_, err := strconv.ParseUint(num, 0, 64)
		return isInt && !v.neg && err == nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch v.kind {
		case valLiteral:
			return floatLits[strings.ToLower(data[v.off:v.end])]
		case valNumber:
			_, err := strconv.ParseFloat(num, 64)
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return true
			}
			return err == nil
		}
		return false
	case protoreflect.EnumKind:
		if v.kind == valLiteral && data[v.off] != '-' &&
			fd.Enum().Values().ByName(protoreflect.Name(data[v.off:v.end])) != nil {
			return true
		}
		_, err := strconv.ParseInt(num, 0, 32)
		return isInt && err == nil
	}
	return false
}

// suggest returns the field name of md closest to name, or "".
func suggest(name string, md protoreflect.MessageDescriptor) string {
	name = strings.Trim(name, "[]")
	lname := strings.ToLower(name)
	best, bestD := "", 1<<30
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		cand := fds.Get(i).TextName()
		d := editDistance(lname, cand)
		if d < bestD {
			best, bestD = cand, d
		}
	}
	if best == "" {
		return ""
	}
	// Close enough: a few edits for the name's length, or one name the
	// prefix of the other ("env" for "envs", "memory" for "memory_mb").
	limit := max(1, min(3, len(best)/4))
	if bestD <= limit {
		return best
	}
	for i := 0; i < fds.Len(); i++ {
		cand := fds.Get(i).TextName()
		if len(lname) >= 3 && (strings.HasPrefix(cand, lname) || strings.HasPrefix(lname, cand)) {
			return cand
		}
	}
	return ""
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus transposition of adjacent bytes: "nmae" is one edit from
// "name"). Long inputs are not compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	var rows [3][65]int
	pp, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(b)]
}

// snippet is raw source text for a message: its first line, at most 40
// bytes, marked "…" when cut.
func snippet(b []byte) string {
	n := len(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		n = i
	}
	n = min(n, 40)
	for n > 0 && n < len(b) && !utf8.RuneStart(b[n]) {
		n--
	}
	s := strings.TrimRight(string(b[:n]), " \t\r")
	if n < len(b) {
		s += "…"
	}
	return s
}
