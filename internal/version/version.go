// Package version says which clocal this is and which compose library it embeds, from the
// build information Go records in every binary (no ldflags needed; -ldflags "-X
// github.com/clocal-dev/clocal/internal/version.Version=v1.2.3" still wins for releases).
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is set at link time by release builds; "" means "ask the build info".
var Version string

// Module paths of the embedded libraries.
const (
	ComposeModule   = "github.com/docker/compose/v2"
	ComposeGoModule = "github.com/compose-spec/compose-go/v2"
	DockerModule    = "github.com/docker/docker"
)

// The library versions go.mod pins, for binaries built without module information (test
// binaries); a test checks them against go.mod.
const (
	composeFallback   = "2.40.3"
	composeGoFallback = "2.9.1"
)

// Info is what `clocal version` prints.
type Info struct {
	Clocal   string `json:"clocal"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// CommitTime is the time of the commit built (vcs.time).
	CommitTime string `json:"commit_time,omitempty"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
	Compose    string `json:"compose"`
	ComposeGo  string `json:"compose_go,omitempty"`
}

// Get reads the build information.
func Get() Info {
	info := Info{Clocal: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Compose: Compose(), ComposeGo: composeGoFallback}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if v := bi.Main.Version; v != "" {
			info.Clocal = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			case "vcs.time":
				info.CommitTime = s.Value
			}
		}
		if v := dep(bi, ComposeGoModule); v != "" {
			info.ComposeGo = strings.TrimPrefix(v, "v")
		}
	}
	if Version != "" {
		info.Clocal = Version
	}
	if info.Clocal == "(devel)" && info.Commit != "" {
		// A plain `go build` of a checkout: the commit is the version.
		info.Clocal = "devel-" + short(info.Commit)
		if info.Modified {
			info.Clocal += "-dirty"
		}
	}
	return info
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// Compose is the version of the embedded compose library ("2.40.3"), as compose writes it in
// its com.docker.compose.version label.
func Compose() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := dep(bi, ComposeModule); v != "" {
			return strings.TrimPrefix(v, "v")
		}
	}
	return composeFallback
}

func dep(bi *debug.BuildInfo, path string) string {
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
