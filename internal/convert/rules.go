package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/router"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// DefaultPortEnv is the default port_env rule.
var DefaultPortEnv = []string{"port", "PORT", "*_port", "*_PORT"}

// DefaultBindAddress is the host address published ports bind to.
const DefaultBindAddress = "127.0.0.1"

// PauseImage is the image of the services owning a shared network namespace (internal/pause).
const PauseImage = "clocal/pause:local"

// RouterImage is the image of the services standing for a production host whose jobs run in
// several network namespaces (internal/routerimage makes it present).
var RouterImage = router.Image

// NetworkName is the project bridge network every service (or its pause service) joins.
const NetworkName = "clocal"

// ServiceName makes name a valid compose service name: lowercase, [a-z0-9_.-], starting with a
// letter or digit; "job" when nothing is left. Job names are validated by package job already;
// this is the defensive fallback (the original is kept in the dev.clocal.job label).
func ServiceName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), "._-")
	if s == "" {
		return "job"
	}
	return s
}

// MatchPortKey reports whether an env key matches the port_env rule (path.Match globs over
// the whole key, case-sensitive).
func MatchPortKey(key string, patterns []string) bool { return workspace.MatchPortKey(key, patterns) }

// ParsePort parses a listening port value: decimal digits only, 1-65535 ("svc-1:9300",
// "08x", "0" and "70000" are not ports).
func ParsePort(v string) (int, bool) { return workspace.ParsePort(v) }

// EscapeEnv escapes a literal env value for compose: every '$' becomes "$$", so compose never
// interpolates production values.
func EscapeEnv(v string) string { return strings.ReplaceAll(v, "$", "$$") }

// MergeEnv merges env layers (later layers win) into one map.
func MergeEnv(j *job.Job, layers ...map[string]string) map[string]string {
	out := map[string]string{}
	if j != nil {
		for _, e := range j.Envs {
			out[e.Key] = e.Value
		}
	}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

// maxVolumePath bounds the host-path part of a volume name (Docker keeps a volume in a folder
// of that name: it must stay well under the 255-byte file name limit).
const maxVolumePath = 64

// VolumeName names the volume standing for a production host path in one network-namespace
// group: "<group>_<path with / as _>", e.g. ("git-1", "/data") -> "git-1_data". When the path
// holds characters other than letters, digits, '.', '-' (or is "/"), they become '-' and a
// hash of the path is appended, so two host paths never share a volume; so it is when the
// path part is longer than 64 characters (then cut to 64).
func VolumeName(group, hostPath string) string {
	p := strings.Trim(path.Clean("/"+hostPath), "/")
	clean := true
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			b.WriteRune(r)
		case r == '/':
			b.WriteByte('_')
		default:
			b.WriteByte('-')
			clean = false
		}
	}
	name := b.String()
	if name == "" {
		name, clean = "root", false
	}
	if len(name) > maxVolumePath {
		name, clean = name[:maxVolumePath], false
	}
	if !clean {
		sum := sha256.Sum256([]byte("/" + p))
		name += "-" + hex.EncodeToString(sum[:])[:6]
	}
	return ServiceName(group) + "_" + name
}

// Restart maps a production restart policy to compose. Empty means "no" (a crashing service
// stays down and visible in `clocal ps` instead of looping). Known policies are kept
// ("never" -> "no", "on_failure" -> "on-failure"); anything else is "no" and ok is false.
func Restart(policy string) (string, bool) {
	p := strings.ToLower(strings.TrimSpace(policy))
	switch p {
	case "", "no", "never", "false":
		return "no", true
	case "always", "unless-stopped":
		return p, true
	case "unless_stopped":
		return "unless-stopped", true
	case "on-failure", "on_failure", "onfailure":
		return "on-failure", true
	}
	if n, ok := strings.CutPrefix(strings.ReplaceAll(p, "_", "-"), "on-failure:"); ok {
		if _, err := strconv.Atoi(n); err == nil {
			return "on-failure:" + n, true
		}
	}
	return "no", false
}

// MemLimit formats memory_mb for compose mem_limit ("" for 0).
func MemLimit(mb int64) string {
	if mb <= 0 {
		return ""
	}
	return strconv.FormatInt(mb, 10) + "m"
}

// Aliases returns the network aliases of a service: its production hosts and job names
// (lowercased, distinct, sorted), without the compose service name itself.
func Aliases(service string, hosts, jobs []string) []string {
	seen := map[string]bool{service: true}
	var out []string
	for _, list := range [][]string{hosts, jobs} {
		for _, a := range list {
			a = strings.ToLower(a)
			if a == "" || seen[a] {
				continue
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// checkContainerPath rejects a relative container path or one with a ".." segment.
func checkContainerPath(p string) error {
	if !path.IsAbs(p) {
		return fmt.Errorf("container path %q is not absolute", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Errorf("container path %q has a \"..\" segment", p)
		}
	}
	if path.Clean(p) == "/" {
		return fmt.Errorf("container path %q is the container's root: nothing can be mounted there", p)
	}
	return nil
}
