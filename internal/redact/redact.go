// Package redact is the one place where clocal hides secrets in what it shows: every
// printing command (graph in all formats, validate, warnings, errors, ps, logs, watch and
// dev loop events, inspect, the status page) goes through it. Only `config` and `convert`
// (which print the project by design) and `inspect --show-secrets` print values as they
// are. Generated compose files keep the real values: they live in the owner-only .clocal
// folder.
//
// Two entry points: [Value] for a value whose key is known (environment variables), and
// [Text] for free text (log lines, error messages, build output, edge sources). Both hide
//   - the value of a secret-looking key ([IsSecretKey]: PASSWORD, SECRET, TOKEN, KEY,
//     CREDENTIAL, DSN, AUTH, PRIVATE, PASSPHRASE, … as a word of the key),
//   - the password of credentials inside URLs and DSNs (scheme://user:password@host,
//     user:password@tcp(host)),
//
// and Text also the token of an Authorization header (Bearer/Basic) and PEM private keys.
// The corpus in redact_test.go is what "secret" means here.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret value.
const Mask = "********"

// strongWords make a key secret wherever they appear in it ("DBPASSWORD", "githubtoken").
var strongWords = []string{"password", "passwd", "passphrase", "secret", "token", "credential", "dsn", "apikey", "privatekey", "accesskey", "secretkey", "cookie", "signature"}

// weakWords make a key secret only as a whole word of it ("API_KEY", "auth", "pwd",
// "private_key" — but not "KEYCLOAK_URL", "AUTHOR", "MONKEY").
var weakWords = map[string]bool{"key": true, "auth": true, "pwd": true, "private": true, "pass": true, "salt": true, "session": true, "sig": true, "pat": true, "jwt": true}

// IsSecretKey reports whether a key (an environment variable, a config field) looks like it
// holds a secret: one of the strong words anywhere in it, or one of the weak words as a
// word of it (words split at _ . - and lower→upper case changes).
func IsSecretKey(key string) bool {
	if key == "" {
		return false
	}
	lower := strings.ToLower(key)
	for _, w := range strongWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	for _, w := range words(key) {
		if weakWords[w] {
			return true
		}
	}
	return false
}

// words splits a key into lower-case words: at _ . - and spaces, and where a lower-case
// letter or digit is followed by an upper-case one ("apiKey" → api, key).
func words(key string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, strings.ToLower(cur.String()))
			cur.Reset()
		}
	}
	prevLowerOrDigit := false
	for _, r := range key {
		switch {
		case r == '_' || r == '.' || r == '-' || r == ' ' || r == '/':
			flush()
			prevLowerOrDigit = false
			continue
		case r >= 'A' && r <= 'Z':
			if prevLowerOrDigit {
				flush()
			}
			prevLowerOrDigit = false
		default:
			prevLowerOrDigit = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}

// dsnCreds matches user:password@ in URLs and DSNs (scheme://user:pass@host,
// user:pass@tcp(...), scheme://:pass@host).
var dsnCreds = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)?([^:/@\s"'=,;]*):([^@\s"']+)@`)

// Value returns value with secrets hidden: the whole value when key looks secret, otherwise
// what Text hides in it (credentials in a URL or DSN, a secret-looking key=value inside).
func Value(key, value string) string {
	if value == "" {
		return value
	}
	if IsSecretKey(key) {
		return Mask
	}
	return Text(value)
}

// Credentials hides the password of user:password@ in value.
func Credentials(value string) string {
	if !strings.Contains(value, "@") {
		return value
	}
	if u, err := url.Parse(value); err == nil && u.User != nil && u.Scheme != "" && !strings.ContainsAny(value, " \t") {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return strings.Replace(u.String(), "xxxxx", Mask, 1)
		}
	}
	return dsnCreds.ReplaceAllStringFunc(value, func(m string) string {
		sub := dsnCreds.FindStringSubmatch(m)
		if sub[1] == "" && sub[2] == "" {
			return m // ":x@" without scheme nor user: not credentials (a port, an IPv6 address)
		}
		return sub[1] + sub[2] + ":" + Mask + "@"
	})
}

// Env redacts a KEY=VALUE list.
func Env(env []string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			out[i] = kv
			continue
		}
		out[i] = k + "=" + Value(k, v)
	}
	return out
}

// Map redacts a key → value map (nil values stay nil).
func Map(m map[string]*string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		if v == nil {
			out[k] = nil
			continue
		}
		r := Value(k, *v)
		out[k] = &r
	}
	return out
}

var (
	// assignment matches KEY=VALUE, KEY: VALUE, "KEY": "VALUE", --key=VALUE and
	// key='VALUE' in free text; the value ends at white space, a quote, , ; & or ).
	assignment = regexp.MustCompile(`(["']?)([A-Za-z_][A-Za-z0-9_.-]*)(["']?[ \t]*[:=][ \t]*["']?)([^\s"',;&)]+)`)
	// flagValue matches "--password VALUE" (a secret flag and its value as the next word).
	flagValue = regexp.MustCompile(`(--?[A-Za-z][A-Za-z0-9_-]*)([ \t]+)([^\s"'-][^\s"']*)`)
	// authHeader matches the credentials of an Authorization header or scheme.
	authHeader = regexp.MustCompile(`(?i)\b(bearer|basic|token)([ \t]+)([A-Za-z0-9._~+/=-]{8,})`)
	// pemKey matches a PEM private key block (or its beginning, on one line).
	pemKey = regexp.MustCompile(`-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)`)
)

// Text hides secrets in free text (log lines, error messages, build output, edge sources,
// whole documents such as a DOT graph): the value of every key=value, key: value,
// "key": "value" and --flag value whose key looks secret, the passwords of credentials
// embedded in URLs and DSNs, Authorization tokens and PEM private keys.
func Text(s string) string {
	if s == "" {
		return s
	}
	if strings.ContainsAny(s, "=:") {
		s = redactAssignments(s)
	}
	if strings.Contains(s, "-") {
		s = flagValue.ReplaceAllStringFunc(s, func(m string) string {
			sub := flagValue.FindStringSubmatch(m)
			if !IsSecretKey(strings.TrimLeft(sub[1], "-")) || sub[3] == Mask || placeholder(sub[3]) {
				return m
			}
			return sub[1] + sub[2] + Mask
		})
		if strings.Contains(s, "PRIVATE KEY-----") {
			s = pemKey.ReplaceAllString(s, "-----BEGIN ${1}PRIVATE KEY----- "+Mask)
		}
	}
	if strings.Contains(s, "@") {
		s = Credentials(s)
	}
	if strings.ContainsAny(s, "bBtT") {
		s = authHeader.ReplaceAllString(s, "${1}${2}"+Mask)
	}
	return s
}

// redactAssignments masks the values of the secret-looking assignments in s. A name:tag
// after a slash is the last part of an image reference (registry.corp/team/auth-service:1.2,
// …/private:1), not a key and its value.
func redactAssignments(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range assignment.FindAllStringSubmatchIndex(s, -1) {
		quote, key, sep, val := s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]], s[m[8]:m[9]]
		if !IsSecretKey(key) || val == Mask || strings.HasPrefix(val, "//") || placeholder(val) {
			continue
		}
		if quote == "" && sep == ":" && m[0] > 0 && s[m[0]-1] == '/' {
			continue
		}
		b.WriteString(s[last:m[8]])
		b.WriteString(Mask)
		last = m[9]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// placeholder reports whether a value stands for one rather than being one: a reference
// to a variable ($DB_PASSWORD, ${TOKEN}), a template (<token>, VALUE, ...). Shown as is.
func placeholder(v string) bool {
	switch v {
	case "VALUE", "value", "...", "X", "x":
		return true
	}
	return strings.HasPrefix(v, "$") || strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">")
}
