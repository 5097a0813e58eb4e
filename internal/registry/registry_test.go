package registry

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"
)

func TestClassifyMessage(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want Reason
	}{
		{`Get "http://127.0.0.1:5055/v2/": dial tcp 127.0.0.1:5055: connect: connection refused`, ReasonUnreachable},
		{`Get "https://registry.corp/v2/": dial tcp: lookup registry.corp on 127.0.0.53:53: no such host`, ReasonUnreachable},
		{`Get "https://registry.corp/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)`, ReasonUnreachable},
		{`manifest for 127.0.0.1:5055/team/app:9 not found: manifest unknown: manifest unknown`, ReasonNotFound},
		{`pull access denied for team/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`, ReasonRepoNotFound},
		{`Head "http://127.0.0.1:5055/v2/team/app/manifests/1": no basic auth credentials`, ReasonUnauthorized},
		{`unauthorized: authentication required`, ReasonUnauthorized},
		{`Get "https://127.0.0.2:5000/v2/": http: server gave HTTP response to HTTPS client`, ReasonTLS},
		{`Get "https://r/v2/": x509: certificate signed by unknown authority`, ReasonTLS},
		{`something else entirely`, ReasonOther},
	} {
		if got, _ := classifyMessage(tc.msg); got != tc.want {
			t.Errorf("classifyMessage(%q) = %s, want %s", tc.msg, got, tc.want)
		}
	}
}

func TestPullErrorIsOneLineNamingImageAndRegistry(t *testing.T) {
	for _, cause := range []string{
		"dial tcp 127.0.0.1:5055: connect: connection refused",
		"manifest for 127.0.0.1:5055/team/db:9 not found: manifest unknown: manifest unknown",
		"no basic auth credentials",
		"Get \"https://user:s3cret@127.0.0.1:5055/v2/\": boom\nsecond line",
	} {
		err := newPullError("127.0.0.1:5055/team/db:9", []string{"db"}, errors.New(cause))
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%q: message has several lines: %q", cause, msg)
		}
		for _, want := range []string{"127.0.0.1:5055/team/db:9", "registry 127.0.0.1:5055", "(db)"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%q: message %q does not name %q", cause, msg, want)
			}
		}
		if strings.Contains(msg, "s3cret") {
			t.Errorf("message shows a password: %q", msg)
		}
	}
	unauth := newPullError("127.0.0.1:5055/team/db:9", nil, errors.New("unauthorized: authentication required"))
	if !strings.Contains(unauth.Error(), "docker login 127.0.0.1:5055") {
		t.Errorf("unauthorized error does not say how to log in: %s", unauth)
	}
	missing := &MissingError{Image: "redis:7", Services: []string{"cache"}, Registry: Host("redis:7"), More: 2}
	if got := missing.Error(); !strings.Contains(got, "redis:7 (cache)") || !strings.Contains(got, "registry docker.io") || !strings.Contains(got, "2 more") {
		t.Errorf("MissingError = %q", got)
	}
}

// TestTagsUnreachableSaysListing: listing the tags of an unreachable registry (update --list)
// is not a pull: the one line says "list the tags of" and does not suggest --pull never, which
// update does not take (QA-15). A closed loopback port is a real unreachable registry.
func TestTagsUnreachableSaysListing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	_, err = (&Remote{}).Tags(context.Background(), addr+"/team/app:1", 0)
	var pe *PullError
	if !errors.As(err, &pe) || pe.Reason != ReasonUnreachable {
		t.Fatalf("Tags on a closed port = %v, want an unreachable *PullError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot list the tags of "+addr+"/team/app:1 from registry "+addr) {
		t.Errorf("message does not say it was listing tags: %q", msg)
	}
	if strings.Contains(msg, "--pull") || strings.Contains(msg, "cannot pull") {
		t.Errorf("a listing error suggests pulling: %q", msg)
	}
	pull := newPullError(addr+"/team/app:1", []string{"app"}, errors.New("dial tcp "+addr+": connect: connection refused"))
	if !strings.Contains(pull.Error(), "cannot pull") || !strings.Contains(pull.Error(), "--pull never") {
		t.Errorf("a pull error lost its wording: %q", pull)
	}
}

func TestHostRepository(t *testing.T) {
	for _, tc := range []struct{ ref, host, repo, norm string }{
		{"redis:7", "docker.io", "library/redis", "docker.io/library/redis:7"},
		{"team/app", "docker.io", "team/app", "docker.io/team/app:latest"},
		{"127.0.0.1:5055/team/app:1", "127.0.0.1:5055", "team/app", "127.0.0.1:5055/team/app:1"},
		{"registry.corp/a/b/c@sha256:" + strings.Repeat("a", 64), "registry.corp", "a/b/c", "registry.corp/a/b/c@sha256:" + strings.Repeat("a", 64)},
		{"localhost:5000/x", "localhost:5000", "x", "localhost:5000/x:latest"},
	} {
		if got := Host(tc.ref); got != tc.host {
			t.Errorf("Host(%q) = %q, want %q", tc.ref, got, tc.host)
		}
		if got := Repository(tc.ref); got != tc.repo {
			t.Errorf("Repository(%q) = %q, want %q", tc.ref, got, tc.repo)
		}
		if got, err := Normalize(tc.ref); err != nil || got != tc.norm {
			t.Errorf("Normalize(%q) = %q, %v, want %q", tc.ref, got, err, tc.norm)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"": PullMissing, "missing": PullMissing, "Always": PullAlways, "never": PullNever} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("sometimes"); err == nil {
		t.Error("ParsePolicy(sometimes) did not fail")
	}
}

func TestMerge(t *testing.T) {
	got := merge([]Want{{Image: "redis:7", For: []string{"b"}}, {Image: "docker.io/library/redis:7", For: []string{"a", "b"}, Base: true}, {Image: "x:1"}})
	if len(got) != 2 || got[0].Image != "redis:7" || !got[0].Base || strings.Join(got[0].For, ",") != "a,b" {
		t.Fatalf("merge = %+v", got)
	}
}

// TestProgressLines: without a terminal, a pull prints a start line, a progress line at
// most every lineEvery, and its result.
func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	v := newProgressView(&buf, false)
	v.now = func() time.Time { return now }
	v.add("127.0.0.1:5055/team/app:1", []string{"app"})
	v.start()
	ev := func(id, status string, cur, total int64) {
		m := jsonmessage.JSONMessage{ID: id, Status: status}
		if total > 0 {
			m.Progress = &jsonmessage.JSONProgress{Current: cur, Total: total}
		}
		v.event(0, m)
	}
	ev("l1", "Pulling fs layer", 0, 0)
	ev("l1", "Downloading", 100, 1000)
	now = now.Add(6 * time.Second)
	ev("l1", "Downloading", 500, 1000)
	ev("l1", "Downloading", 600, 1000) // within lineEvery of the last line: quiet
	now = now.Add(time.Second)
	ev("l1", "Pull complete", 0, 0)
	v.finish(0, nil)
	v.stop()
	want := "pulling 127.0.0.1:5055/team/app:1 (for app)\n" +
		"pulling 127.0.0.1:5055/team/app:1: downloading 500B/1kB, 0/1 layers\n" +
		"127.0.0.1:5055/team/app:1: pulled 1kB in 7s\n"
	if buf.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestProgressTerminal: in a terminal every image has one line, rewritten in place.
func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	v := newProgressView(&buf, true)
	v.add("a:1", nil)
	v.add("bb:2", nil)
	v.start()
	v.event(1, jsonmessage.JSONMessage{ID: "l", Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: 10, Total: 20}})
	v.finish(0, nil)
	v.finish(1, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"))
	v.stop()
	out := buf.String()
	if !strings.Contains(out, "\x1b[2A") {
		t.Errorf("no cursor-up redraw in %q", out)
	}
	last := out[strings.LastIndex(out, "\x1b[2A"):]
	if !strings.Contains(last, "a:1   pulled in") || !strings.Contains(last, "bb:2  failed: connection refused") {
		t.Errorf("last redraw = %q", last)
	}
}
