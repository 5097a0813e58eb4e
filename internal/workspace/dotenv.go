package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// DotEnvFile is the per-developer env file at the workspace root (git-ignored): its
// variables are added to every service's environment, after the service file's env and the
// profile overrides, before clocal.local.yaml.
const DotEnvFile = ".env"

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// ParseDotEnv parses KEY=VALUE lines: blank lines and lines starting with # are skipped, an
// optional leading "export " is allowed, a value wrapped in matching single or double quotes
// is unquoted (no escapes, no interpolation: the value is taken literally). Every bad line is
// an error "FILE:LINE: message".
func ParseDotEnv(file string, data []byte) (Env, []error) {
	env := Env{}
	var errs []error
	if !utf8.Valid(data) {
		return nil, []error{fmt.Errorf("%s: not valid UTF-8", file)}
	}
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, a ...any) {
			errs = append(errs, &posError{File: file, Line: i + 1, Msg: fmt.Sprintf(format, a...)})
		}
		if bytes.IndexByte([]byte(line), 0) >= 0 {
			bad("NUL byte")
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			// never echo the line: it may be a secret with a typo
			bad("want KEY=VALUE (no \"=\" on the line)")
			continue
		}
		if !envKeyRE.MatchString(k) {
			bad("invalid variable name %q (letters, digits, '_', '.', '-'; not starting with a digit)", k)
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, errs
}

// loadDotEnv reads .env (optional) and gives its variables to every service.
func (l *loader) loadDotEnv(ws *Workspace) {
	data, err := os.ReadFile(filepath.Join(l.root, DotEnvFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			l.errs = append(l.errs, fmt.Errorf("%s: %w", DotEnvFile, err))
		}
		return
	}
	env, errs := ParseDotEnv(DotEnvFile, data)
	l.errs = append(l.errs, errs...)
	if len(errs) > 0 {
		return
	}
	ws.DotEnv = env
	for _, s := range ws.Services {
		s.DotEnv = env
	}
}
