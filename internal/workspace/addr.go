package workspace

import (
	"path"
	"strconv"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// Address is one network address found in an env value, as production wrote it.
type Address struct {
	Text   string // the address part as written: "md-1:9300", "http://git-3:8866", "kv-1"
	Host   string // lowercased host name
	Port   int    // 0: none written (nor implied by the scheme)
	Scheme string // "http", "redis", ... ("" when none)
	// Implied is set when Port is the default port of the scheme (http://host: 80), not
	// written.
	Implied bool
	// Local is set for localhost, 127.0.0.1 (any 127.x) and [::1].
	Local bool
}

// schemePorts are the default ports of URL schemes without an explicit port; other schemes
// (grpc://, redis://, ...) reach the port written, or the host when none is.
var schemePorts = map[string]int{"http": 80, "https": 443, "ws": 80, "wss": 443}

// Addresses returns the addresses a value may hold: URLs (scheme://user@host:port/path),
// host:port and bare names, in comma, semicolon or space separated lists, and key=value
// pairs inside a value ("host=db-1 port=5432"). Tokens are whole names, never substrings
// ("git-10" never yields "git-1"). Bare numbers are no hosts.
func Addresses(value string) []Address {
	var out []Address
	fields := strings.FieldsFunc(value, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '"' || r == '\''
	})
	for _, f := range fields {
		a := Address{}
		// key=value inside a value (e.g. "host=db-1 port=5432")
		if i := strings.LastIndexByte(f, '='); i >= 0 && !strings.Contains(f, "://") {
			f = f[i+1:]
		}
		if i := strings.Index(f, "://"); i >= 0 {
			a.Scheme = strings.ToLower(f[:i])
			f = f[i+3:]
		}
		if i := strings.IndexAny(f, "/?#"); i >= 0 {
			f = f[:i]
		}
		if i := strings.LastIndexByte(f, '@'); i >= 0 {
			f = f[i+1:]
		}
		a.Text = f
		if a.Scheme != "" {
			a.Text = a.Scheme + "://" + f
		}
		host, port := f, ""
		if strings.HasPrefix(f, "[") { // IPv6 literal
			end := strings.IndexByte(f, ']')
			if end < 0 {
				continue
			}
			host, port = f[1:end], strings.TrimPrefix(f[end+1:], ":")
			if host != "::1" {
				continue
			}
		} else if i := strings.IndexByte(f, ':'); i >= 0 {
			host, port = f[:i], f[i+1:]
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		a.Local = isLoopback(host)
		if host == "" || !a.Local && isNumber(host) {
			continue // a bare number, or an IP address: no production name
		}
		if port != "" {
			p, ok := ParsePort(port)
			if !ok {
				// "host:8080x", "host:" : keep the host, no port
				p = 0
			}
			a.Port = p
		}
		if a.Port == 0 && schemePorts[a.Scheme] != 0 {
			a.Port, a.Implied = schemePorts[a.Scheme], true
		}
		a.Host = host
		out = append(out, a)
	}
	return out
}

func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return false
		}
	}
	return true
}

// hostTokens returns the host names of Addresses(value) (tests and the fuzz target).
func hostTokens(value string) []string {
	var out []string
	for _, a := range Addresses(value) {
		out = append(out, a.Host)
	}
	return out
}

// MatchPortKey reports whether an env key matches the port_env rule (path.Match globs over
// the whole key, case-sensitive).
func MatchPortKey(key string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}

// ParsePort parses a listening port value: decimal digits only, 1-65535 ("svc-1:9300",
// "08x", "0" and "70000" are not ports).
func ParsePort(v string) (int, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 5 {
		return 0, false
	}
	p := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		p = p*10 + int(c-'0')
	}
	if p < 1 || p > 65535 {
		return 0, false
	}
	return p, true
}

// pairedPort returns, for an env key naming a host ("db_host", "DB_HOST", "dbHost",
// "DB_HOSTNAME"), the value of its sibling port key ("db_port", "DB_PORT", "dbPort") in the
// same job, and that key; ok is false when there is none.
func pairedPort(j *job.Job, key string) (port int, portKey string, ok bool) {
	lk := strings.ToLower(key)
	prefix, found := strings.CutSuffix(lk, "hostname")
	if !found {
		prefix, found = strings.CutSuffix(lk, "host")
	}
	if !found || prefix == "" {
		return 0, "", false
	}
	want := prefix + "port"
	for i := len(j.Envs) - 1; i >= 0; i-- {
		e := &j.Envs[i]
		if strings.ToLower(e.Key) == want {
			if p, ok := ParsePort(e.Value); ok {
				return p, e.Key, true
			}
			return 0, "", false
		}
	}
	return 0, "", false
}
