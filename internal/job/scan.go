package job

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small scanner for the protobuf text format. It exists for
// positions only: prototext decodes values but tells nothing about where they
// were, and stops at the first unknown field. The scanner follows the grammar
// of google.golang.org/protobuf/internal/encoding/text (v1.36) token for
// token — the same whitespace, comments, identifiers, numbers, strings,
// separators and brackets — and builds a tree of fields with byte offsets.
// prototext stays the authority on what is valid: the fuzz target checks that
// the two agree.

// maxDepth bounds message and list nesting. The schema needs three levels;
// the bound keeps hostile input (10,000 nested braces) from recursing deeply,
// both here and in prototext, which only runs on input that scanned.
const maxDepth = 100

type nameKind uint8

const (
	identName  nameKind = iota + 1 // name
	typeName                       // [ext.name] or [type.url/Name]
	numberName                     // 1
)

type valKind uint8

const (
	valString valKind = iota + 1
	valNumber
	valLiteral // identifier: true, inf, ENUM_VALUE, -inf, ...
	valMessage
	valList
)

// Number kinds, as in the text decoder.
const (
	numDec uint8 = 1 << iota
	numHex
	numOct
	numFloat
)

// field is one `name: value` of a message.
type field struct {
	name   string // identifier, field number, or the bracketed text of a type name
	kind   nameKind
	off    int // offset of the name
	hasSep bool
	val    value
}

// value is a scalar, a message or a list.
type value struct {
	kind valKind
	off  int // offset of the first byte: quote, digit, '-', '{', '<' or '['
	end  int // offset after the last byte (scalars)

	// valNumber: number kind and sign.
	numKind uint8
	neg     bool

	// valString: whether the decoded (unescaped, concatenated) string is not
	// valid UTF-8 or holds a NUL character.
	badUTF8 bool
	hasNUL  bool

	// sub holds the fields of a message, or the elements of a list (as
	// fields without name: their val is the element).
	sub []field
}

// numText is the text of a valNumber that strconv parses: the sign joined
// to the digits, without a float's f suffix.
func (v *value) numText(data []byte, src string) string {
	if v.kind != valNumber {
		return ""
	}
	return parseNumber(data[v.off:]).string(src[v.off:])
}

// syntaxError is a scanner error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

type scanner struct {
	data []byte
	src  string // data as a string: names and numbers are substrings of it
	i    int
	buf  []byte // scratch for unescaping strings
	err  *syntaxError
	// openOff is the offset of every open bracket, for "not closed" errors.
	openOff []int
	pt      *posTable
	// stack holds the fields of the messages being parsed; a message's
	// fields are copied out, exactly sized, when it closes.
	stack []field
}

// scan parses data into the fields of the top-level message.
func scan(data []byte, pt *posTable) ([]field, *syntaxError) {
	s := &scanner{data: data, src: pt.src, pt: pt}
	fields := s.fields(0)
	if s.err != nil {
		return nil, s.err
	}
	return fields, nil
}

func (s *scanner) fail(off int, format string, args ...any) {
	if s.err == nil {
		s.err = &syntaxError{off: off, msg: "syntax error: " + fmt.Sprintf(format, args...)}
	}
}

func (s *scanner) eofError() {
	if n := len(s.openOff); n > 0 {
		o := s.openOff[n-1]
		p := s.pt.pos(o)
		s.fail(len(s.data), "unexpected end of file: %q at %d:%d is not closed", s.data[o], p.Line, p.Col)
		return
	}
	s.fail(len(s.data), "unexpected end of file")
}

// skip consumes whitespace and # comments, as the text decoder does.
func (s *scanner) skip() {
	s.i = skipSpace(s.data, s.i)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		case '#':
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				return len(b)
			}
			i += j + 1
		default:
			return i
		}
	}
	return i
}

func closeFor(open byte) byte {
	switch open {
	case '{':
		return '}'
	case '<':
		return '>'
	}
	return ']'
}

// fields parses fields up to the close byte (0: end of input).
func (s *scanner) fields(close byte) []field {
	mark := len(s.stack)
	done := func() []field {
		if len(s.stack) == mark {
			return nil
		}
		out := make([]field, len(s.stack)-mark)
		copy(out, s.stack[mark:])
		clear(s.stack[mark:])
		s.stack = s.stack[:mark]
		return out
	}
	for s.err == nil {
		s.skip()
		if s.i >= len(s.data) {
			if close != 0 {
				s.eofError()
			}
			return done()
		}
		c := s.data[s.i]
		if close != 0 {
			if c == close {
				s.i++
				return done()
			}
			if (close == '}' && c == '>') || (close == '>' && c == '}') {
				o := s.openOff[len(s.openOff)-1]
				p := s.pt.pos(o)
				s.fail(s.i, "%q does not close %q opened at %d:%d", c, s.data[o], p.Line, p.Col)
				return nil
			}
		}
		f, ok := s.field()
		if !ok {
			return nil
		}
		s.stack = append(s.stack, f)
		// One optional separator after a value.
		s.skip()
		if s.i < len(s.data) && (s.data[s.i] == ',' || s.data[s.i] == ';') {
			s.i++
		}
	}
	return nil
}

func (s *scanner) field() (field, bool) {
	f := field{off: s.i}
	switch c := s.data[s.i]; {
	case c == '[':
		name, ok := s.typeName()
		if !ok {
			return f, false
		}
		f.kind, f.name = typeName, name
	default:
		if n := identSize(s.data[s.i:], false); n > 0 {
			f.kind, f.name = identName, s.src[s.i:s.i+n]
			s.i += n
			break
		}
		if num := parseNumber(s.data[s.i:]); num.size > 0 {
			str := num.string(s.src[s.i:])
			if num.neg || num.kind != numDec {
				s.fail(s.i, "invalid field number %s", str)
				return f, false
			}
			if _, err := strconv.ParseInt(str, 10, 32); err != nil {
				s.fail(s.i, "invalid field number %s", str)
				return f, false
			}
			f.kind, f.name = numberName, str
			s.i += num.size
			break
		}
		s.fail(s.i, "expected a field name, found %s", quoteToken(s.data[s.i:]))
		return f, false
	}
	s.skip()
	if s.i < len(s.data) && s.data[s.i] == ':' {
		f.hasSep = true
		s.i++
		s.skip()
	}
	if s.i >= len(s.data) {
		s.eofError()
		return f, false
	}
	switch c := s.data[s.i]; c {
	case '{', '<':
		f.val = s.message()
	case '[':
		f.val = s.list()
	default:
		f.val = s.scalar()
	}
	return f, s.err == nil
}

func (s *scanner) open() bool {
	if len(s.openOff) >= maxDepth {
		s.fail(s.i, "nesting deeper than %d levels", maxDepth)
		return false
	}
	s.openOff = append(s.openOff, s.i)
	s.i++
	return true
}

func (s *scanner) message() value {
	v := value{kind: valMessage, off: s.i}
	c := s.data[s.i]
	if !s.open() {
		return v
	}
	v.sub = s.fields(closeFor(c))
	s.openOff = s.openOff[:len(s.openOff)-1]
	return v
}

func (s *scanner) list() value {
	v := value{kind: valList, off: s.i}
	if !s.open() {
		return v
	}
	defer func() { s.openOff = s.openOff[:len(s.openOff)-1] }()
	s.skip()
	if s.i >= len(s.data) {
		s.eofError()
		return v
	}
	if s.data[s.i] == ']' {
		s.i++
		return v
	}
	for s.err == nil {
		// An element: a message or a scalar.
		if s.i >= len(s.data) {
			s.eofError()
			return v
		}
		var e value
		switch s.data[s.i] {
		case '{', '<':
			e = s.message()
		default:
			e = s.scalar()
		}
		if s.err != nil {
			return v
		}
		v.sub = append(v.sub, field{off: e.off, val: e})
		s.skip()
		if s.i >= len(s.data) {
			s.eofError()
			return v
		}
		switch c := s.data[s.i]; c {
		case ']':
			s.i++
			return v
		case ',':
			s.i++
			s.skip()
		default:
			s.fail(s.i, "unexpected %q in list, want \",\" or \"]\"", c)
		}
	}
	return v
}

func (s *scanner) scalar() value {
	start := s.i
	c := s.data[s.i]
	if c == '"' || c == '\'' {
		return s.strings()
	}
	if n := identSize(s.data[s.i:], true); n > 0 {
		s.i += n
		return value{kind: valLiteral, off: start, end: s.i}
	}
	if num := parseNumber(s.data[s.i:]); num.size > 0 {
		v := value{kind: valNumber, off: start, end: start + num.size, numKind: num.kind, neg: num.neg}
		s.i += num.size
		return v
	}
	s.fail(s.i, "expected a value, found %s", quoteToken(s.data[s.i:]))
	return value{}
}

// strings parses one or more adjacent quoted strings (concatenated).
func (s *scanner) strings() value {
	v := value{kind: valString, off: s.i}
	s.buf = s.buf[:0]
	escaped := false
	for s.err == nil && s.i < len(s.data) && (s.data[s.i] == '"' || s.data[s.i] == '\'') {
		if s.str() {
			escaped = true
		}
		v.end = s.i
		s.skip()
	}
	// Without escapes the bytes are the file's own, already checked for NUL
	// and invalid UTF-8 (see checkText); only escapes can bring either in.
	if escaped {
		v.badUTF8 = !utf8.Valid(s.buf)
		v.hasNUL = bytes.IndexByte(s.buf, 0) >= 0
	}
	return v
}

// str parses one quoted string, appending its value to s.buf when it has
// escapes (the only case in which the value is needed). It reports whether
// the string had escapes.
func (s *scanner) str() (escaped bool) {
	start := s.i
	q := s.data[s.i]
	i := s.i + 1
	d := s.data
	seg := i // start of the unescaped run not yet copied to buf
	for {
		if i >= len(d) {
			s.fail(start, "unterminated string")
			return escaped
		}
		switch c := d[i]; c {
		case q:
			if escaped {
				s.buf = append(s.buf, d[seg:i]...)
			} else {
				s.buf = append(s.buf, d[start+1:i]...)
			}
			s.i = i + 1
			return escaped
		case '\n':
			s.fail(start, "newline in string (use \\n)")
			return escaped
		case 0:
			s.fail(i, "NUL character in string")
			return escaped
		case '\\':
			if !escaped {
				escaped = true
			}
			s.buf = append(s.buf, d[seg:i]...)
			n, ok := s.escape(i)
			if !ok {
				return escaped
			}
			i += n
			seg = i
		default:
			if c >= utf8.RuneSelf {
				r, n := utf8.DecodeRune(d[i:])
				if r == utf8.RuneError && n == 1 {
					s.fail(i, "invalid UTF-8 in string")
					return escaped
				}
				i += n
				continue
			}
			i++
		}
	}
}

// escape decodes the escape sequence at d[i] == '\\' into s.buf and returns
// its length.
func (s *scanner) escape(i int) (int, bool) {
	d := s.data
	if i+1 >= len(d) {
		s.fail(i, "unterminated string")
		return 0, false
	}
	switch c := d[i+1]; c {
	case '"', '\'', '\\', '?':
		s.buf = append(s.buf, c)
	case 'a':
		s.buf = append(s.buf, '\a')
	case 'b':
		s.buf = append(s.buf, '\b')
	case 'n':
		s.buf = append(s.buf, '\n')
	case 'r':
		s.buf = append(s.buf, '\r')
	case 't':
		s.buf = append(s.buf, '\t')
	case 'v':
		s.buf = append(s.buf, '\v')
	case 'f':
		s.buf = append(s.buf, '\f')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := 0
		for n < 3 && i+1+n < len(d) && d[i+1+n] >= '0' && d[i+1+n] <= '7' {
			n++
		}
		v, err := strconv.ParseUint(string(d[i+1:i+1+n]), 8, 8)
		if err != nil {
			s.fail(i, "invalid octal escape %s in string (over \\377)", d[i:i+1+n])
			return 0, false
		}
		s.buf = append(s.buf, byte(v))
		return 1 + n, true
	case 'x':
		n := 0
		for n < 2 && i+2+n < len(d) && isHex(d[i+2+n]) {
			n++
		}
		if n == 0 {
			s.fail(i, "invalid hex escape \\x in string (want 1 or 2 hex digits)")
			return 0, false
		}
		v, _ := strconv.ParseUint(string(d[i+2:i+2+n]), 16, 8)
		s.buf = append(s.buf, byte(v))
		return 2 + n, true
	case 'u', 'U':
		n := 6
		if c == 'U' {
			n = 10
		}
		if i+n > len(d) {
			s.fail(i, "unterminated string")
			return 0, false
		}
		v, err := strconv.ParseUint(string(d[i+2:i+n]), 16, 32)
		if err != nil || v > utf8.MaxRune {
			s.fail(i, "invalid Unicode escape %s in string", quoteBytes(d[i:i+n]))
			return 0, false
		}
		r := rune(v)
		if utf16.IsSurrogate(r) {
			j := i + n
			if j+6 > len(d) {
				s.fail(i, "unterminated string")
				return 0, false
			}
			v2, err := strconv.ParseUint(string(d[j+2:j+6]), 16, 16)
			r = utf16.DecodeRune(r, rune(v2))
			if d[j] != '\\' || d[j+1] != 'u' || r == utf8.RuneError || err != nil {
				s.fail(j, "invalid Unicode escape %s in string (unpaired surrogate)", quoteBytes(d[j:j+6]))
				return 0, false
			}
			n += 6
		}
		s.buf = utf8.AppendRune(s.buf, r)
		return n, true
	default:
		s.fail(i, "invalid escape %s in string", quoteBytes(d[i:i+2]))
		return 0, false
	}
	return 2, true
}

// typeName parses `[ext.name]` or `[url/pkg.Type]`, as the text decoder does:
// whitespace and comments are allowed inside the brackets.
func (s *scanner) typeName() (string, bool) {
	start := s.i
	i := skipSpace(s.data, s.i+1)
	var name []byte
	closed := false
	for i < len(s.data) && !closed {
		c := s.data[i]
		switch {
		case c == ']':
			i++
			closed = true
		case c == '/' || isTypeNameChar(c) || isURLExtraChar(c):
			name = append(name, c)
			i = skipSpace(s.data, i+1)
		case c == '%':
			if i+2 >= len(s.data) || !isHex(s.data[i+1]) || !isHex(s.data[i+2]) {
				s.fail(start, "invalid type or extension name")
				return "", false
			}
			name = append(name, s.data[i:i+3]...)
			i = skipSpace(s.data, i+3)
		default:
			s.fail(start, "invalid type or extension name")
			return "", false
		}
	}
	if !closed {
		s.i = i
		s.eofError()
		return "", false
	}
	tn := name
	if j := bytes.LastIndexByte(name, '/'); j >= 0 {
		if j > 0 && name[0] == '/' {
			s.fail(start, "invalid type or extension name")
			return "", false
		}
		tn = name[j+1:]
	}
	for _, part := range bytes.Split(tn, []byte{'.'}) {
		if len(part) == 0 {
			s.fail(start, "invalid type or extension name")
			return "", false
		}
	}
	for _, b := range tn {
		if b == '%' || (b != '.' && isURLExtraChar(b)) {
			s.fail(start, "invalid type or extension name")
			return "", false
		}
	}
	s.i = i
	return "[" + string(name) + "]", true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func isTypeNameChar(b byte) bool {
	return b == '-' || b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

func isURLExtraChar(b byte) bool {
	switch b {
	case '.', '~', '!', '$', '&', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

// isDelim reports whether c ends an identifier or a number.
func isDelim(c byte) bool {
	return !(c == '-' || c == '+' || c == '.' || c == '_' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
}

// identSize returns the size of the identifier at the start of b, 0 if none.
// With allowNeg a leading '-' is allowed (-inf).
func identSize(b []byte, allowNeg bool) int {
	n := 0
	if allowNeg && n < len(b) && b[n] == '-' {
		n++
	}
	if n >= len(b) {
		return 0
	}
	if c := b[n]; !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return 0
	}
	n++
	for n < len(b) {
		c := b[n]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			break
		}
		n++
	}
	if n < len(b) && !isDelim(b[n]) {
		return 0
	}
	return n
}

type number struct {
	kind uint8
	neg  bool
	size int
	sep  int // whitespace and comments between '-' and the digits
}

// string returns the text strconv parses: the sign joined to the digits,
// without a float's f suffix.
func (num number) string(b string) string {
	size := num.size
	if num.kind == numFloat && (b[size-1] == 'f' || b[size-1] == 'F') {
		size--
	}
	if num.neg && num.sep > 0 {
		return "-" + b[1+num.sep:size]
	}
	return b[:size]
}

// parseNumber recognises, as the text decoder does,
//
//	integer: -?([1-9][0-9]*|0[xX][0-9a-fA-F]+|0[0-7]*)
//	float:   -?((0|[1-9][0-9]*)?([.][0-9]*)?([eE][+-]?[0-9]+)?[fF]?)
//
// followed by a delimiter or the end of input.
func parseNumber(input []byte) number {
	kind := numDec
	size := 0
	neg := false
	s := input
	if len(s) == 0 {
		return number{}
	}
	sep := 0
	if s[0] == '-' {
		neg = true
		s = s[1:]
		size++
		j := skipSpace(s, 0)
		sep = j
		s = s[j:]
		size += sep
		if len(s) == 0 {
			return number{}
		}
	}
	switch {
	case s[0] == '0':
		if len(s) > 1 {
			switch {
			case s[1] == 'x' || s[1] == 'X':
				kind = numHex
				n := 2
				s = s[2:]
				for len(s) > 0 && isHex(s[0]) {
					s = s[1:]
					n++
				}
				if n == 2 {
					return number{}
				}
				size += n
			case '0' <= s[1] && s[1] <= '7':
				kind = numOct
				n := 2
				s = s[2:]
				for len(s) > 0 && '0' <= s[0] && s[0] <= '7' {
					s = s[1:]
					n++
				}
				size += n
			}
			if kind&(numHex|numOct) != 0 {
				if len(s) > 0 && !isDelim(s[0]) {
					return number{}
				}
				return number{kind: kind, neg: neg, size: size, sep: sep}
			}
		}
		s = s[1:]
		size++
	case '1' <= s[0] && s[0] <= '9':
		n := 1
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
			n++
		}
		size += n
	case s[0] == '.':
		kind = numFloat
	default:
		return number{}
	}
	if len(s) > 0 && s[0] == '.' {
		n := 1
		s = s[1:]
		if len(s) == 0 && kind == numFloat {
			return number{}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
			n++
		}
		size += n
		kind = numFloat
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		kind = numFloat
		s = s[1:]
		n := 1
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			n++
			if len(s) == 0 {
				return number{}
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
			n++
		}
		size += n
	}
	if len(s) > 0 && (s[0] == 'f' || s[0] == 'F') {
		kind = numFloat
		s = s[1:]
		size++
	}
	if len(s) > 0 && !isDelim(s[0]) {
		return number{}
	}
	return number{kind: kind, neg: neg, size: size, sep: sep}
}

// quoteToken quotes the token-like prefix of b for an error message.
func quoteToken(b []byte) string {
	n := 0
	for n < len(b) && n < 32 {
		r, size := utf8.DecodeRune(b[n:])
		if r >= utf8.RuneSelf || (r != '/' && isDelim(byte(r))) {
			if n == 0 {
				n = size
			}
			break
		}
		n += size
	}
	return quoteBytes(b[:n])
}

// quoteBytes quotes b for an error message, shortened when long.
func quoteBytes(b []byte) string {
	const max = 40
	if len(b) > max {
		n := max
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		return strconv.Quote(string(b[:n])) + "…"
	}
	return strconv.Quote(string(b))
}
