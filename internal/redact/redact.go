// Package redact hides secret values in what clocal shows (inspect, ps, messages). Generated
// compose files keep the real values: they live in the owner-only .clocal folder.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret value.
const Mask = "********"

var secretKey = regexp.MustCompile(`(?i)(password|passwd|pwd|token|secret|key|credential|auth|dsn|private)`)

// IsSecretKey reports whether an env key looks like it holds a secret
// (*password*, *token*, *secret*, *key*, *credential*, *auth*, *dsn*, *private*).
func IsSecretKey(key string) bool { return secretKey.MatchString(key) }

// dsnCreds matches user:password@ in URLs and DSNs (scheme://user:pass@host, user:pass@tcp(...)).
var dsnCreds = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)?([^:/@\s]+):([^@\s]+)@`)

// Value returns value with secrets hidden: the whole value when key looks secret, otherwise
// only the password part of credentials embedded in a URL or DSN.
func Value(key, value string) string {
	if value == "" {
		return value
	}
	if IsSecretKey(key) {
		return Mask
	}
	return Credentials(value)
}

// Credentials hides the password of user:password@ in value.
func Credentials(value string) string {
	if !strings.Contains(value, "@") {
		return value
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return strings.Replace(u.String(), "xxxxx", Mask, 1)
		}
	}
	return dsnCreds.ReplaceAllString(value, "${1}${2}:"+Mask+"@")
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

// assignment matches KEY=VALUE, KEY: VALUE and "KEY": "VALUE" in free text (log lines, error
// messages, edge sources), so Text can mask the values of secret-looking keys.
var assignment = regexp.MustCompile(`(?i)("?)([a-z0-9_.-]*(?:password|passwd|pwd|token|secret|key|credential|auth|dsn|private)[a-z0-9_.-]*)("?\s*[:=]\s*"?)([^\s",;&]+)`)

// Text hides secrets in free text: the values of KEY=VALUE (or KEY: VALUE) pairs whose key
// looks secret, and the passwords of credentials embedded in URLs and DSNs. It is what the
// status page applies to log lines, build output and messages.
func Text(s string) string {
	if s == "" {
		return s
	}
	if secretKey.MatchString(s) { // cheap test first: most lines name no secret
		s = assignment.ReplaceAllString(s, "${1}${2}${3}"+Mask)
	}
	if strings.Contains(s, "@") {
		s = dsnCreds.ReplaceAllString(s, "${1}${2}:"+Mask+"@")
	}
	return s
}
