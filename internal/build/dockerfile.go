package build

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// baseImages returns the external images a Dockerfile needs, in order of first
// use and without duplicates: FROM images that are neither `scratch` nor an
// earlier stage, and `COPY --from=<image>` sources that are neither a stage name
// nor a stage index. Global ARGs (declared before the first FROM) are expanded
// with their default values; no build args are ever passed, so those defaults
// are what the daemon would use.
func baseImages(dockerfile []byte) ([]string, error) {
	lines, err := logicalLines(dockerfile)
	if err != nil {
		return nil, err
	}
	var (
		images   []string
		seen     = map[string]bool{}
		stages   = map[string]bool{}
		nstages  int
		args     = map[string]string{}
		sawFrom  bool
		addImage = func(ref string) {
			if !seen[ref] {
				seen[ref] = true
				images = append(images, ref)
			}
		}
	)
	for _, ln := range lines {
		fields := strings.Fields(ln.text)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			if sawFrom {
				continue
			}
			for _, a := range fields[1:] {
				if name, val, ok := strings.Cut(a, "="); ok {
					args[name] = unquote(val)
				} // ARG without a default expands to nothing

			}
		case "FROM":
			sawFrom = true
			rest := fields[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				rest = rest[1:] // --platform=...
			}
			if len(rest) == 0 {
				return nil, fmt.Errorf("line %d: FROM without an image", ln.line)
			}
			ref, err := expandArgs(rest[0], args)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", ln.line, err)
			}
			switch {
			case strings.EqualFold(ref, "scratch"):
			case stages[strings.ToLower(ref)]:
			default:
				addImage(ref)
			}
			// The alias becomes usable for later instructions only.
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages[strings.ToLower(rest[2])] = true
			}
			nstages++
		case "COPY":
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") {
					break
				}
				from, ok := strings.CutPrefix(f, "--from=")
				if !ok {
					continue
				}
				from = unquote(from)
				if stages[strings.ToLower(from)] {
					continue
				}
				if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < nstages {
					continue
				}
				addImage(from)
			}
		}
	}
	if !sawFrom {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return images, nil
}

type logicalLine struct {
	line int // first physical line (1-based)
	text string
}

var directiveRe = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)

// escapeChar returns the Dockerfile's escape character (the escape parser
// directive, default backslash).
func escapeChar(data []byte) byte {
	for _, raw := range strings.Split(string(data), "\n") {
		m := directiveRe.FindStringSubmatch(strings.TrimSpace(strings.TrimRight(raw, "\r")))
		if m == nil {
			break
		}
		if strings.EqualFold(m[1], "escape") && (m[2] == "`" || m[2] == "\\") {
			return m[2][0]
		}
	}
	return '\\'
}

// logicalLines splits a Dockerfile into instructions: parser directives honoured
// (escape), comments and blank lines dropped, continuation lines joined.
func logicalLines(data []byte) ([]logicalLine, error) {
	escape := byte('\\')
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var (
		out       []logicalLine
		cur       strings.Builder
		curLine   int
		directive = true
		n         int
	)
	for sc.Scan() {
		n++
		raw := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(raw)
		if directive {
			if m := directiveRe.FindStringSubmatch(trimmed); m != nil {
				if strings.EqualFold(m[1], "escape") {
					if m[2] != "\\" && m[2] != "`" {
						return nil, fmt.Errorf("line %d: invalid escape directive %q", n, m[2])
					}
					escape = m[2][0]
				}
				continue
			}
			directive = false
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // comments are removed even inside continuations
		}
		if trimmed == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() == 0 {
			curLine = n
		}
		if len(trimmed) > 0 && trimmed[len(trimmed)-1] == escape {
			cur.WriteString(trimmed[:len(trimmed)-1])
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, logicalLine{line: curLine, text: cur.String()})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		out = append(out, logicalLine{line: curLine, text: cur.String()})
	}
	return out, nil
}

var argRefRe = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandArgs substitutes $NAME, ${NAME}, ${NAME:-default} and ${NAME:+alt} with
// the global ARG defaults. An undefined variable is an error: the result would
// be an image name clocal cannot check.
func expandArgs(s string, args map[string]string) (string, error) {
	var missing string
	out := argRefRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := argRefRe.FindStringSubmatch(m)
		name := sub[1] + sub[4]
		val, ok := args[name]
		switch sub[2] {
		case ":-", "-":
			if !ok || (sub[2] == ":-" && val == "") {
				return sub[3]
			}
			return val
		case ":+", "+":
			if ok && (sub[2] == "+" || val != "") {
				return sub[3]
			}
			return ""
		}
		if !ok {
			missing = name
		}
		return val
	})
	if missing != "" {
		return "", fmt.Errorf("FROM %s: build arg %s has no default (clocal passes no build args)", s, missing)
	}
	return out, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// BaseImages returns the images the Dockerfile of s builds on (FROM and COPY --from images
// that are neither scratch nor a stage), in order of first use.
func BaseImages(s Spec) ([]string, error) {
	df, err := os.ReadFile(s.Dockerfile)
	if err != nil {
		return nil, err
	}
	return baseImages(df)
}
