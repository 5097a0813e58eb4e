package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestScriptImages(t *testing.T) {
	env := map[string]string{"TOOLCHAIN": "registry.corp/tools/go:1.22", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := map[string]string{
		"docker run -it --rm -v \"$(pwd)/../src:/app\" -v gomod:/go/pkg/mod -w /app golang:1.22 go build ./...\n": "golang:1.22",
		"docker run --rm \\\n  -v $PWD:/app \\\n  -e GOFLAGS=-mod=vendor \\\n  $TOOLCHAIN go build\n":             "registry.corp/tools/go:1.22",
		"docker container run -itw /app --user=1000 ${TOOLCHAIN} make\n":                                          "registry.corp/tools/go:1.22",
		"docker run --rm -v/x:/y ${EMPTY:-maven:3} mvn package # and a comment: docker run nope:1\n":              "maven:3",
		"sudo docker --context ci run --network host node:20 npm ci && docker pull redis:7\n":                     "node:20,redis:7",
		"docker run --rm $UNKNOWN make\n":                                 "",
		"echo docker run fake:1\ndocker build -t x .\ndocker ps\n":        "",
		"docker run -d --name db -p 5432:5432 postgres:16 -c fsync=off\n": "postgres:16",
	}
	for script, want := range cases {
		if got := strings.Join(ScriptImages(script, lookup), ","); got != want {
			t.Errorf("ScriptImages(%q) = %q, want %q", script, got, want)
		}
	}
}

// TestImages: doctor checks every image a target needs and clocal does not build against
// its registry, with the fix when it cannot be had.
func TestImages(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	server := testutil.TestServerImage(t)
	db := reg.Push(t, cli, server, "third/db:1")
	tool := reg.Push(t, cli, server, "tools/go:1")
	gone := testutil.ClosedAddr(t)
	root := testutil.WriteFiles(t, t.TempDir(), map[string]string{
		"clocal.yaml":             "name: doc\n",
		"services/db/db.job":      `job { name: "db-1" image: "` + db + `" run_on_host: "h1" }`,
		"services/old/old.job":    `job { name: "old-1" image: "` + reg.Ref("third/old:9") + `" run_on_host: "h2" }`,
		"services/far/far.job":    `job { name: "far-1" image: "` + gone + `/third/far:1" run_on_host: "h3" }`,
		"services/here/h.job":     `job { name: "here-1" image: "` + server + `" run_on_host: "h4" }`,
		"services/app/app.job":    `job { name: "app-1" image: "app:1" run_on_host: "h5" }`,
		"services/app/build.sh":   "#!/bin/sh\ndocker run --rm -v \"$(pwd):/app\" -w /app ${TOOLCHAIN:-" + tool + "} echo\n",
		"services/app/Dockerfile": "FROM scratch\nCOPY build.sh /\n",
		"profiles/all.yaml":       "services: [db, old, far, here, app]\n",
	})
	env := noFaults(Env{WS: load(t, root), Targets: []string{"all"}, Docker: cli, Project: "doc"})
	fs := find(Run(context.Background(), env), "images")
	byImage := func(ref string) Finding {
		t.Helper()
		for _, f := range fs {
			if strings.HasPrefix(f.Message, ref+" ") {
				return f
			}
		}
		t.Fatalf("no images finding for %s in %+v", ref, fs)
		return Finding{}
	}
	if f := byImage(db); f.Severity != OK || !strings.Contains(f.Message, "clocal up pulls it") {
		t.Errorf("pullable image: %+v", f)
	}
	if f := byImage(tool); f.Severity != OK || !strings.Contains(f.Message, "build.sh of app") || !strings.Contains(f.Message, "build.sh's docker pulls it") {
		t.Errorf("toolchain image: %+v", f)
	}
	if f := byImage(reg.Ref("third/old:9")); f.Severity != Blocker || !strings.Contains(f.Message, "no such tag") {
		t.Errorf("unknown tag: %+v", f)
	}
	if f := byImage(gone + "/third/far:1"); f.Severity != Blocker || !strings.Contains(f.Message, "unreachable") || !strings.Contains(f.Fix, "docker login "+gone) {
		t.Errorf("unreachable registry: %+v", f)
	}
	var summary bool
	for _, f := range fs {
		summary = summary || (f.Severity == OK && f.Message == "1 other images present")
	}
	if !summary {
		t.Errorf("no summary of the present images in %+v", fs)
	}
}
