package convert

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The compose YAML is written by a small emitter specialised for the compose structs of
// compose.go: yaml.v3's encoder costs ~50 KB of garbage and ~100 µs per service, which misses the
// 10,000-jobs-in-a-second target. TestEmitterMatchesYAMLv3 checks that this emitter and yaml.v3
// (plus docker-compose v1's YAML 1.1 reading, through quoting) agree on every value.
//
// Quoting is conservative: a string is written plain only when it cannot be read as anything
// but that string by a YAML 1.1 or 1.2 parser; otherwise it is double-quoted.

// scalar returns s as a YAML scalar (plain or double-quoted).
func scalar(s string) string {
	if plainSafe(s) {
		return s
	}
	return quote(s)
}

func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	digit := c >= '0' && c <= '9'
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/' || digit) {
		return false // '.', '-', '+' may start a number or an indicator
	}
	notNumber := !digit // a digit-first string must hold a letter no number, date or hex has
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			if !strings.ContainsRune("abcdefABCDEFxXoObBtTzZ", rune(c)) {
				notNumber = true
			}
		case c >= '0' && c <= '9':
		case c == '.', c == '_', c == '/', c == '-', c == '@', c == '+', c == '=', c == ',':
		case c == ':':
			if i == len(s)-1 || s[i+1] == ' ' {
				return false
			}
		case c == ' ':
			if i == len(s)-1 || s[i+1] == '#' || s[i+1] == ' ' {
				return false
			}
			notNumber = true
		default:
			return false
		}
	}
	if !notNumber {
		return false
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "true", "false", "on", "off", "null":
		return false
	}
	return true
}

// quote writes a YAML double-quoted scalar.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
			i++
			continue
		}
		i += size
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		case 0x85:
			b.WriteString(`\N`)
		case 0x2028:
			b.WriteString(`\L`)
		case 0x2029:
			b.WriteString(`\P`)
		case 0xFEFF:
			b.WriteString(`\uFEFF`)
		default:
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xA0) {
				b.WriteString(`\x`)
				b.WriteString(hex2(byte(r)))
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hex2(c byte) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[c>>4], digits[c&15]})
}

type emitter struct{ b bytes.Buffer }

func (e *emitter) indent(n int) {
	for i := 0; i < n; i++ {
		e.b.WriteByte(' ')
	}
}

// maxImplicitKey is the longest key written as "key: value": YAML limits implicit keys to
// 1024 characters, longer ones (a 2 KB env key in a job file) use the explicit "? key" form.
const maxImplicitKey = 1000

// writeKey writes "<indent>key:" (no newline), in the explicit form for very long keys.
func (e *emitter) writeKey(n int, k string) {
	e.indent(n)
	sk := scalar(k)
	if len(sk) > maxImplicitKey {
		e.b.WriteString("? ")
		e.b.WriteString(sk)
		e.b.WriteByte('\n')
		e.indent(n)
		e.b.WriteByte(':')
		return
	}
	e.b.WriteString(sk)
	e.b.WriteByte(':')
}

// key writes "<indent>key:" and a newline.
func (e *emitter) key(n int, k string) {
	e.writeKey(n, k)
	e.b.WriteByte('\n')
}

// raw writes "<indent>key: value" with value already formatted.
func (e *emitter) raw(n int, k, v string) {
	e.writeKey(n, k)
	e.b.WriteByte(' ')
	e.b.WriteString(v)
	e.b.WriteByte('\n')
}

func (e *emitter) str(n int, k, v string) {
	if v != "" {
		e.raw(n, k, scalar(v))
	}
}

func (e *emitter) list(n int, k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	e.key(n, k)
	for _, v := range vs {
		e.indent(n + 2)
		e.b.WriteString("- ")
		e.b.WriteString(scalar(v))
		e.b.WriteByte('\n')
	}
}

func (e *emitter) qlist(n int, k string, vs []qstr) {
	if len(vs) == 0 {
		return
	}
	e.key(n, k)
	for _, v := range vs {
		e.indent(n + 2)
		e.b.WriteString("- ")
		e.b.WriteString(scalar(string(v)))
		e.b.WriteByte('\n')
	}
}

func (e *emitter) strMap(n int, k string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	e.key(n, k)
	for _, mk := range sortedKeys(m) {
		e.raw(n+2, mk, scalar(m[mk]))
	}
}

func (e *emitter) service(name string, s *composeService) {
	e.key(2, name)
	const n = 4
	e.raw(n, "image", scalar(s.Image))
	e.str(n, "pull_policy", s.PullPolicy)
	e.list(n, "profiles", s.Profiles)
	e.qlist(n, "entrypoint", s.Entrypoint)
	e.qlist(n, "command", s.Command)
	e.str(n, "user", string(s.User))
	e.str(n, "working_dir", s.WorkingDir)
	if len(s.Environment) > 0 {
		e.key(n, "environment")
		for _, k := range sortedKeys(s.Environment) {
			e.raw(n+2, k, scalar(string(s.Environment[k])))
		}
	}
	e.str(n, "network_mode", s.NetworkMode)
	if len(s.Networks) > 0 {
		e.key(n, "networks")
		for _, k := range sortedKeys(s.Networks) {
			if len(s.Networks[k].Aliases) == 0 {
				e.raw(n+2, k, "{}")
				continue
			}
			e.key(n+2, k)
			e.list(n+4, "aliases", s.Networks[k].Aliases)
		}
	}
	e.list(n, "ports", s.Ports)
	e.list(n, "volumes", s.Volumes)
	if len(s.Configs) > 0 {
		e.key(n, "configs")
		for _, c := range s.Configs {
			e.indent(n + 2)
			e.b.WriteString("- source: ")
			e.b.WriteString(scalar(c.Source))
			e.b.WriteByte('\n')
			e.raw(n+4, "target", scalar(c.Target))
		}
	}
	if len(s.DependsOn) > 0 {
		e.key(n, "depends_on")
		for _, k := range sortedKeys(s.DependsOn) {
			e.key(n+2, k)
			e.raw(n+4, "condition", scalar(s.DependsOn[k].Condition))
		}
	}
	if h := s.Healthcheck; h != nil {
		e.key(n, "healthcheck")
		e.list(n+2, "test", h.Test)
		e.str(n+2, "interval", h.Interval)
		e.str(n+2, "timeout", h.Timeout)
		if h.Retries != 0 {
			e.raw(n+2, "retries", strconv.Itoa(h.Retries))
		}
		e.str(n+2, "start_period", h.StartPeriod)
		e.str(n+2, "start_interval", h.StartInterval)
	}
	if s.Init {
		e.raw(n, "init", "true")
	}
	if s.Privileged {
		e.raw(n, "privileged", "true")
	}
	if s.CPUs != 0 {
		e.raw(n, "cpus", strconv.FormatFloat(s.CPUs, 'g', -1, 64))
	}
	e.str(n, "mem_limit", s.MemLimit)
	e.str(n, "restart", s.Restart)
	if l := s.Logging; l != nil {
		e.key(n, "logging")
		e.raw(n+2, "driver", scalar(l.Driver))
		e.strMap(n+2, "options", l.Options)
	}
	e.strMap(n, "labels", s.Labels)
}

func (e *emitter) file(f *composeFile) {
	e.b.WriteString("# Generated by clocal. Do not edit: edit the job files or services/*/service.yaml.\n")
	if len(f.Services) == 0 {
		e.b.WriteString("services: {}\n")
	} else {
		e.b.WriteString("services:\n")
		for _, name := range sortedKeys(f.Services) {
			e.service(name, f.Services[name])
		}
	}
	if len(f.Networks) > 0 {
		e.b.WriteString("networks:\n")
		for _, k := range sortedKeys(f.Networks) {
			if len(f.Networks[k].Labels) == 0 {
				e.raw(2, k, "{}")
				continue
			}
			e.key(2, k)
			e.strMap(4, "labels", f.Networks[k].Labels)
		}
	}
	if len(f.Volumes) > 0 {
		e.b.WriteString("volumes:\n")
		for _, k := range sortedKeys(f.Volumes) {
			if len(f.Volumes[k].Labels) == 0 {
				e.raw(2, k, "{}")
				continue
			}
			e.key(2, k)
			e.strMap(4, "labels", f.Volumes[k].Labels)
		}
	}
	if len(f.Configs) > 0 {
		e.b.WriteString("configs:\n")
		for _, k := range sortedKeys(f.Configs) {
			e.key(2, k)
			e.raw(4, "content", scalar(string(f.Configs[k].Content)))
		}
	}
}
