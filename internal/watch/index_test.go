package watch

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestIndexOwnersIgnore(t *testing.T) {
	const root = "/src/app"
	tests := []struct {
		name   string
		ignore []string
		path   string // relative to root
		owned  bool
	}{
		{"plain file", nil, "main.go", true},
		{"root itself", nil, ".", true},
		{"nested file", nil, "pkg/a/b.go", true},
		{"top-level glob", []string{"*.md"}, "README.md", false},
		{"top-level glob is not recursive", []string{"*.md"}, "docs/x.md", true},
		{"double star", []string{"**/*.md"}, "docs/deep/x.md", false},
		{"double star at top", []string{"**/*.md"}, "x.md", false},
		{"dir pattern with slash", []string{"testdata/"}, "testdata/a/b.txt", false},
		{"dir pattern without slash", []string{"node_modules"}, "node_modules/x/index.js", false},
		{"dir pattern matches dir itself", []string{"testdata/"}, "testdata", false},
		{"dir pattern not a prefix match", []string{"testdata/"}, "testdata2/x", true},
		{"exception re-includes", []string{"*.md", "!KEEP.md"}, "KEEP.md", true},
		{"exception leaves others ignored", []string{"*.md", "!KEEP.md"}, "OTHER.md", false},
		{"exception inside ignored dir", []string{"testdata/", "!testdata/keep.txt"}, "testdata/keep.txt", true},
		{"exception inside ignored dir, sibling", []string{"testdata/", "!testdata/keep.txt"}, "testdata/drop.txt", false},
		{"last match wins", []string{"!a.txt", "*.txt"}, "a.txt", false},
		{"leading slash", []string{"/build"}, "build/out.bin", false},
		{"double star dir", []string{"**/tmp"}, "a/b/tmp/x", false},
		{"question mark", []string{"?.log"}, "a.log", false},
		{"char class", []string{"[ab].c"}, "b.c", false},
		{"dot git", nil, ".git/HEAD", false},
		{"nested dot git", nil, "vendor/lib/.git/index", false},
		{"dot hg", nil, ".hg/store", false},
		{"gitignore is a source", nil, ".gitignore", true},
		{"github dir is a source", nil, ".github/workflows/ci.yml", true},
		{"vim swap", nil, "pkg/.main.go.swp", false},
		{"vim swap swo", nil, ".main.go.swo", false},
		{"vim swx", nil, ".main.go.swx", false},
		{"vim probe", nil, "pkg/4913", false},
		{"backup", nil, "main.go~", false},
		{"emacs lock", nil, ".#main.go", false},
		{"emacs autosave", nil, "#main.go#", false},
		{"jetbrains", nil, "main.go___jb_tmp___", false},
		{"jetbrains old", nil, "main.go___jb_old___", false},
		{"DS_Store", nil, "a/.DS_Store", false},
		{"tmp is a source", nil, "data.tmp", true},
		{"number is a source", nil, "4914", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix, err := NewIndex([]Target{{Service: "app", Root: root, Ignore: tt.ignore}})
			if err != nil {
				t.Fatal(err)
			}
			p := root
			if tt.path != "." {
				p = root + "/" + tt.path
			}
			got := len(ix.Owners(p)) == 1
			if got != tt.owned {
				t.Errorf("Owners(%s) owned = %v, want %v", tt.path, got, tt.owned)
			}
		})
	}
}

func TestIndexOwnersMapping(t *testing.T) {
	targets := []Target{
		{Service: "web", Root: "/w/apps/web", Files: []string{"/w/services/web/build.sh", "/w/services/web/Dockerfile", "/w/profiles/dev.yaml"}},
		{Service: "lib", Root: "/w/apps", Ignore: []string{"web/static/"}, Files: []string{"/w/services/lib/service.yaml", "/w/profiles/dev.yaml"}},
		{Service: "api", Root: "/w/apps/api", Outputs: []string{"/w/apps/api/.src", "/w/apps/api/gen.go"}, Files: []string{"/w/services/api/Dockerfile"}},
		{Service: "img", Files: []string{"/w/services/img/img.job"}},
	}
	ix, err := NewIndex(targets)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/w/apps/web/main.go", []string{"lib", "web"}},     // overlapping roots
		{"/w/apps/web/static/app.css", []string{"web"}},     // ignored by lib only
		{"/w/apps/api/server.go", []string{"api", "lib"}},   //
		{"/w/apps/api/.src/copied.go", nil},                 // api's output: nobody
		{"/w/apps/api/gen.go", nil},                         // an output file
		{"/w/apps/api/gen.go.bak", []string{"api", "lib"}},  // not the output
		{"/w/apps/api/.srcx/a", []string{"api", "lib"}},     // prefix, not within
		{"/w/apps/README", []string{"lib"}},                 //
		{"/w/profiles/dev.yaml", []string{"lib", "web"}},    // shared file
		{"/w/profiles/other.yaml", nil},                     // sibling of a file
		{"/w/services/web/build.sh", []string{"web"}},       //
		{"/w/services/web/notes.txt", nil},                  // not a listed file
		{"/w/services/img/img.job", []string{"img"}},        // files only
		{"/w/services/api/Dockerfile", []string{"api"}},     //
		{"/w/apps2/x", nil},                                 // outside every root
		{"/w/apps/web/../api/x.go", []string{"api", "lib"}}, // cleaned
		{"/w/apps/.git/HEAD", nil},                          //
		{"/w/apps/web/.main.go.swp", nil},                   //
		{"/w/apps/web", []string{"lib", "web"}},             // a root itself
		{"/w", nil},                                         //
		{"/w/services/web/build.sh/", []string{"web"}},      // trailing slash cleaned
	}
	for _, tt := range tests {
		if got := ix.Owners(tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Owners(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if got, want := ix.Roots(), []string{"/w/apps", "/w/apps/api", "/w/apps/web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Roots = %v, want %v", got, want)
	}
	if got, want := ix.FileDirs(), []string{"/w/profiles", "/w/services/api", "/w/services/img", "/w/services/lib", "/w/services/web"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FileDirs = %v, want %v", got, want)
	}
	if got, want := ix.Services(), []string{"web", "lib", "api", "img"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Services = %v, want %v", got, want)
	}
}

func TestIndexOutputOverridesFile(t *testing.T) {
	ix, err := NewIndex([]Target{
		{Service: "a", Files: []string{"/w/gen/out.txt"}},
		{Service: "b", Outputs: []string{"/w/gen"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Owners("/w/gen/out.txt"); got != nil {
		t.Errorf("an output listed as a file is owned by %v", got)
	}
	if got := ix.FileDirs(); len(got) != 0 {
		t.Errorf("FileDirs = %v, want none", got)
	}
}

func TestIndexWatchDir(t *testing.T) {
	ix, err := NewIndex([]Target{
		{Service: "a", Root: "/r", Ignore: []string{"node_modules", "testdata/", "!testdata/keep/**", "docs/*.md", "**/cache"}, Outputs: []string{"/r/out"}},
		{Service: "b", Root: "/r/node_modules/mine"},
		{Service: "c", Root: "/q", Ignore: []string{"big", "!**/want.txt"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want bool
	}{
		{"/r", true},
		{"/r/src", true},
		{"/r/.git", false},
		{"/r/src/.git", false},
		{"/r/src/.git/objects", false},
		{"/r/node_modules", false},
		{"/r/node_modules/x", false},
		{"/r/node_modules/mine", true}, // another target's root
		{"/r/node_modules/mine/sub", true},
		{"/r/testdata", true}, // an exception may match inside
		{"/r/testdata/keep", true},
		{"/r/testdata/other", false},
		{"/r/docs", true},
		{"/r/a/b/cache", false},
		{"/r/out", false},
		{"/r/out/sub", false},
		{"/r/outside", true},
		{"/q/big", true}, // "!**/want.txt" may match anywhere: must walk
		{"/elsewhere", false},
	}
	for _, tt := range tests {
		if got := ix.WatchDir(tt.dir); got != tt.want {
			t.Errorf("WatchDir(%s) = %v, want %v", tt.dir, got, tt.want)
		}
	}
}

func TestNewIndexErrors(t *testing.T) {
	tests := []struct {
		name    string
		targets []Target
		want    string
	}{
		{"empty service", []Target{{Root: "/a"}}, "empty service"},
		{"relative root", []Target{{Service: "a", Root: "src"}}, "not absolute"},
		{"relative file", []Target{{Service: "a", Files: []string{"build.sh"}}}, "not absolute"},
		{"relative output", []Target{{Service: "a", Outputs: []string{".src"}}}, "not absolute"},
		{"bad pattern", []Target{{Service: "a", Root: "/a", Ignore: []string{"[x"}}}, "watch a: ignore patterns"},
		{"lone bang", []Target{{Service: "a", Root: "/a", Ignore: []string{"!"}}}, "illegal exclusion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIndex(tt.targets)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDefaultIgnores(t *testing.T) {
	d := DefaultIgnores()
	for _, want := range []string{".git/", "*.swp", "4913", "*~", ".#*", "#*#"} {
		if !slices.Contains(d, want) {
			t.Errorf("DefaultIgnores() lacks %q: %v", want, d)
		}
	}
}

func TestSeveralTargetsPerService(t *testing.T) {
	ix, err := NewIndex([]Target{
		{Service: "a", Root: "/src/a"},
		{Service: "a", Root: "/src/lib", Ignore: []string{"*.md"}},
		{Service: "b", Root: "/src/b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ix.Services(), ","); got != "a,b" {
		t.Fatalf("Services = %s", got)
	}
	for path, want := range map[string]string{
		"/src/a/main.go":  "a",
		"/src/lib/x.go":   "a",
		"/src/lib/x.md":   "",
		"/src/b/main.go":  "b",
		"/src/other/x.go": "",
	} {
		if got := strings.Join(ix.Owners(path), ","); got != want {
			t.Errorf("Owners(%s) = %q, want %q", path, got, want)
		}
	}
}
