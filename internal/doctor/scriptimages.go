package doctor

import (
	"regexp"
	"strings"
)

// dockerRunBoolFlags are the flags of docker run/create that take no value; every other
// flag written without "=value" takes the next word.
var dockerRunBoolFlags = map[string]bool{
	"--rm": true, "--interactive": true, "--tty": true, "--detach": true, "--init": true,
	"--privileged": true, "--read-only": true, "--publish-all": true, "--no-healthcheck": true,
	"--oom-kill-disable": true, "--sig-proxy": true, "--disable-content-trust": true, "--quiet": true,
	"--all-tags": true,
}

// shortBool are the one-letter flags of docker run/create/pull that take no value.
const shortBool = "itdPqa"

// ScriptImages returns the images a build script runs or pulls with the docker CLI
// (`docker run`, `docker container run`, `docker create`, `docker pull`), best effort: a
// simple shell reading (quotes, line continuations, comments, ; && || | separators), the
// flags of docker run skipped with their values, $VAR and ${VAR:-default} expanded with
// lookup. Images naming a variable lookup does not know are left out.
func ScriptImages(script string, lookup func(string) (string, bool)) []string {
	var out []string
	seen := map[string]bool{}
	for _, cmd := range shellCommands(script) {
		ref := dockerImageArg(cmd)
		if ref == "" {
			continue
		}
		ref, ok := expandVars(ref, lookup)
		if !ok || ref == "" || strings.ContainsAny(ref, "$`") || seen[ref] {
			continue
		}
		seen[ref] = true
		out = append(out, ref)
	}
	return out
}

// dockerImageArg returns the image word of a docker run/create/pull command, "" otherwise.
func dockerImageArg(words []string) string {
	for len(words) > 0 && (assignment.MatchString(words[0]) || prefixWords[words[0]] || words[0] == "sudo") {
		words = words[1:]
	}
	if len(words) < 2 || (words[0] != "docker" && !strings.HasSuffix(words[0], "/docker")) {
		return ""
	}
	words = words[1:]
	// global flags before the subcommand (docker --context x run ...)
	for len(words) > 0 && strings.HasPrefix(words[0], "-") {
		if !strings.Contains(words[0], "=") && (words[0] == "--context" || words[0] == "-c" || words[0] == "--host" || words[0] == "-H" || words[0] == "--config" || words[0] == "--log-level" || words[0] == "-l") {
			words = words[1:]
		}
		words = words[1:]
	}
	if len(words) > 0 && (words[0] == "container" || words[0] == "image") {
		words = words[1:]
	}
	if len(words) == 0 || (words[0] != "run" && words[0] != "create" && words[0] != "pull") {
		return ""
	}
	args := words[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1]
			}
			return ""
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return a
		}
		if strings.Contains(a, "=") || dockerRunBoolFlags[a] {
			continue
		}
		if !strings.HasPrefix(a, "--") {
			// -it, -d, -w /app, -itw /app, -v/x:/y: one-letter flags grouped; the first
			// that takes a value takes the rest of the word, or the next word.
			j := strings.IndexFunc(a[1:], func(r rune) bool { return !strings.ContainsRune(shortBool, r) })
			if j < 0 || j+2 < len(a) {
				continue
			}
		}
		i++ // the flag's value
	}
	return ""
}

// shellCommands splits a script into simple commands, each a list of words with quotes
// removed. Comments are dropped; `\` at a line end joins lines; ; && || | & ( ) and new
// lines separate commands.
func shellCommands(script string) [][]string {
	var (
		cmds  [][]string
		words []string
		cur   strings.Builder
		inW   bool
		quote byte
	)
	endWord := func() {
		if inW {
			words = append(words, cur.String())
			cur.Reset()
			inW = false
		}
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		if quote != 0 {
			switch {
			case c == quote:
				quote = 0
			case c == '\\' && quote == '"' && i+1 < len(script):
				i++
				cur.WriteByte(script[i])
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote, inW = c, true
		case '\\':
			if i+1 < len(script) {
				i++
				if script[i] != '\n' {
					cur.WriteByte(script[i])
					inW = true
				}
			}
		case '#':
			if inW {
				cur.WriteByte(c)
				continue
			}
			for i < len(script) && script[i] != '\n' {
				i++
			}
			endCmd()
		case ' ', '\t', '\r':
			endWord()
		case '\n', ';', '&', '|', '(', ')':
			endCmd()
		default:
			cur.WriteByte(c)
			inW = true
		}
	}
	endCmd()
	return cmds
}

var varRe = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandVars substitutes $VAR, ${VAR} and ${VAR:-default}; ok is false when a variable is
// unknown and has no default.
func expandVars(s string, lookup func(string) (string, bool)) (string, bool) {
	ok := true
	out := varRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[4]
		v, found := lookup(name)
		if sub[2] != "" && (!found || (sub[2] == ":-" && v == "")) {
			return sub[3]
		}
		if !found {
			ok = false
		}
		return v
	})
	return out, ok
}
