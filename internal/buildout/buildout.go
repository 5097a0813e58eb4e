// Package buildout knows where common build tools write their outputs inside a source tree,
// so that neither the content hash (internal/build) nor the watcher (internal/watch) takes
// them for sources: a build.sh running gradle, maven or cargo in the source folder writes
// build/, .gradle/ or target/ there, and hashing or watching them would rebuild after every
// build, forever.
//
// A folder is an output when its name is one of a tool's output folders and the folder next
// to it holds that tool's project file: build/ is a source folder in many Go or C projects,
// but not next to a build.gradle. Declared outputs (service.yaml build.outputs) and ignores
// (watch.ignore) cover any other tool.
package buildout

import (
	"os"
	"path/filepath"
	"strings"
)

// Rule is one tool's convention: output folder names and the project files that mark a
// folder as that tool's project (a name ending in "*" matches by prefix, "*." by suffix).
type Rule struct {
	Tool    string
	Outputs []string
	Markers []string
}

// Rules are the conventions known.
var Rules = []Rule{
	{"Gradle", []string{"build", ".gradle", ".kotlin"}, []string{"build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradlew"}},
	{"Maven", []string{"target"}, []string{"pom.xml"}},
	{"Cargo", []string{"target"}, []string{"Cargo.toml"}},
	{"sbt", []string{"target", "project/target"}, []string{"build.sbt"}},
	{"Leiningen", []string{"target"}, []string{"project.clj"}},
	{"npm", []string{"node_modules", ".next", ".nuxt", ".parcel-cache"}, []string{"package.json"}},
	{".NET", []string{"bin", "obj"}, []string{"*.csproj", "*.fsproj", "*.vbproj"}},
	{"Python", []string{"__pycache__", ".pytest_cache", ".mypy_cache", ".tox"}, nil}, // anywhere
}

// byName maps an output folder's base name to the rules naming it.
var byName = func() map[string][]Rule {
	m := map[string][]Rule{}
	for _, r := range Rules {
		for _, o := range r.Outputs {
			base := filepath.Base(o)
			m[base] = append(m[base], r)
		}
	}
	return m
}()

// Candidate reports whether a folder named base could be an output (cheap, no file system
// access): callers ask IsOutput only for those.
func Candidate(base string) bool { return len(byName[base]) > 0 }

// IsOutput reports whether dir (absolute) is a conventional output folder: its name is an
// output of a tool whose project file is in dir's parent (for nested outputs such as sbt's
// project/target, in the project folder above).
func IsOutput(dir string) bool {
	base := filepath.Base(dir)
	for _, r := range byName[base] {
		if r.Markers == nil {
			return true
		}
		for _, o := range r.Outputs {
			if filepath.Base(o) != base {
				continue
			}
			project := filepath.Dir(dir)
			if strings.Contains(o, "/") {
				if !strings.HasSuffix(filepath.ToSlash(dir), "/"+o) {
					continue
				}
				project = filepath.Dir(filepath.Dir(dir))
			}
			if hasMarker(project, r.Markers) {
				return true
			}
		}
	}
	return false
}

func hasMarker(dir string, markers []string) bool {
	for _, m := range markers {
		if strings.HasPrefix(m, "*") {
			matches, _ := filepath.Glob(filepath.Join(dir, m))
			if len(matches) > 0 {
				return true
			}
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, m)); err == nil {
			return true
		}
	}
	return false
}

// Describe lists the conventions for display (doctor, docs): "build/ .gradle/ (Gradle)...".
func Describe() []string {
	var out []string
	for _, r := range Rules {
		s := strings.Join(r.Outputs, "/, ") + "/ (" + r.Tool
		if len(r.Markers) > 0 {
			s += ", next to " + strings.Join(r.Markers, " or ")
		}
		out = append(out, s+")")
	}
	return out
}
