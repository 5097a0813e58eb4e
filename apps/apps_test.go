// Package apps_test runs every example service in-process on real HTTP servers (httptest),
// wired to each other the way production wires them: no fakes.
package apps_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/apps/app-push/push"
	"github.com/clocal-dev/clocal/apps/avatar-updater/avatar"
	"github.com/clocal-dev/clocal/apps/coding-blog/blog"
	"github.com/clocal-dev/clocal/apps/email-sender/mail"
	"github.com/clocal-dev/clocal/apps/git-hook-dispatcher/hooks"
	"github.com/clocal-dev/clocal/apps/internal/svc"
	"github.com/clocal-dev/clocal/apps/kvstore/kv"
	"github.com/clocal-dev/clocal/apps/markdown-renderer/markdown"
	"github.com/clocal-dev/clocal/apps/repo-manager/repos"
)

// system is every service running, addressed by host:port.
type system struct {
	kvDir                                          string
	kv, md, repo, email, push, avatar, blog, hooks string
	kvSrv                                          *httptest.Server
}

func serve(t *testing.T, name string, c svc.Component) (*httptest.Server, string) {
	t.Helper()
	s := httptest.NewServer(svc.Handler(name, name+"-test", c))
	t.Cleanup(s.Close)
	return s, strings.TrimPrefix(s.URL, "http://")
}

func start(t *testing.T) *system {
	t.Helper()
	var s system
	s.kvDir = t.TempDir()
	store, err := kv.Open(s.kvDir)
	if err != nil {
		t.Fatal(err)
	}
	s.kvSrv, s.kv = serve(t, "kvstore", store)
	_, s.md = serve(t, "markdown-renderer", &markdown.Renderer{})
	_, s.repo = serve(t, "repo-manager", repos.New(s.kv, s.md))
	_, s.email = serve(t, "email-sender", &mail.Sender{KV: svc.KV{Addr: s.kv}, From: "noreply@test"})
	_, s.push = serve(t, "app-push", &push.Pusher{KV: svc.KV{Addr: s.kv}, EmailAddr: s.email})
	_, s.avatar = serve(t, "avatar-updater", &avatar.Updater{KV: svc.KV{Addr: s.kv}})
	_, s.blog = serve(t, "coding-blog", &blog.Blog{KV: svc.KV{Addr: s.kv}, MarkdownAddr: s.md, Title: "Test Blog"})
	_, s.hooks = serve(t, "git-hook-dispatcher", &hooks.Dispatcher{RepoManagers: []string{s.repo, s.repo, s.repo}, EmailAddr: s.email, PushAddr: s.push})
	return &s
}

// call sends a request and returns the status and body.
func call(t *testing.T, method, addr, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

func want(t *testing.T, method, addr, path, body string, code int, contains ...string) string {
	t.Helper()
	got, out, _ := call(t, method, addr, path, body)
	if got != code {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, code, out)
	}
	for _, c := range contains {
		if !strings.Contains(out, c) {
			t.Fatalf("%s %s: %q does not contain %q", method, path, out, c)
		}
	}
	return out
}

func TestIndexAndHealth(t *testing.T) {
	s := start(t)
	for name, addr := range map[string]string{"kvstore": s.kv, "markdown-renderer": s.md, "repo-manager": s.repo,
		"email-sender": s.email, "app-push": s.push, "avatar-updater": s.avatar, "coding-blog": s.blog, "git-hook-dispatcher": s.hooks} {
		t.Run(name, func(t *testing.T) {
			var idx map[string]any
			if err := json.Unmarshal([]byte(want(t, "GET", addr, "/", "", 200)), &idx); err != nil {
				t.Fatal(err)
			}
			if idx["service"] != name || idx["marker"] != name+"-test" || idx["host"] == "" {
				t.Fatalf("GET / = %v", idx)
			}
			want(t, "GET", addr, "/healthz", "", 200, `{"status":"ok"}`)
		})
	}
	// kvstore down: everything needing it turns unhealthy, the renderer stays healthy.
	s.kvSrv.Close()
	want(t, "GET", s.repo, "/healthz", "", 503, "kvstore")
	want(t, "GET", s.hooks, "/healthz", "", 503, "repo-manager")
	want(t, "GET", s.md, "/healthz", "", 200)
}

func TestKVStore(t *testing.T) {
	s := start(t)
	want(t, "GET", s.kv, "/kv/missing", "", 404)
	want(t, "PUT", s.kv, "/kv/user%2F1", "v1", 204)
	want(t, "PUT", s.kv, "/kv/user%2F1", "v2", 204)
	want(t, "PUT", s.kv, "/kv/héllo wörld", "✓", 204)
	want(t, "PUT", s.kv, "/kv/other", "x", 204)
	if got := want(t, "GET", s.kv, "/kv/user%2F1", "", 200); got != "v2" {
		t.Fatalf("GET = %q, want v2", got)
	}
	want(t, "GET", s.kv, "/kv/?prefix=user", "", 200, `{"keys":["user/1"]}`)
	want(t, "DELETE", s.kv, "/kv/other", "", 204)
	want(t, "DELETE", s.kv, "/kv/other", "", 404)
	want(t, "PUT", s.kv, "/kv/"+strings.Repeat("k", 200), "x", 400)

	// no temp files left; a restart (new store on the same folder) sees every value and
	// removes the temp file a crash mid-write left behind.
	if err := os.WriteFile(filepath.Join(s.kvDir, ".tmp-crashed"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := kv.Open(s.kvDir)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := store.Keys("")
	if strings.Join(keys, ",") != "héllo wörld,user/1" {
		t.Fatalf("keys after restart = %q", keys)
	}
	if stale, _ := filepath.Glob(filepath.Join(s.kvDir, ".tmp-*")); len(stale) != 0 {
		t.Fatalf("temp files left: %v", stale)
	}
	_, addr := serve(t, "kvstore", store)
	if got := want(t, "GET", addr, "/kv/héllo wörld", "", 200); got != "✓" {
		t.Fatalf("after restart GET = %q", got)
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"heading", "# Title", "<h1>Title</h1>\n"},
		{"h3 closing hashes", "### Three ###", "<h3>Three</h3>\n"},
		{"paragraphs", "a\nb\n\nc", "<p>a\nb</p>\n<p>c</p>\n"},
		{"emphasis", "**bold** *it* _also_ snake_case_name", "<p><strong>bold</strong> <em>it</em> <em>also</em> snake_case_name</p>\n"},
		{"code", "run `a *b* <c>` now", "<p>run <code>a *b* &lt;c&gt;</code> now</p>\n"},
		{"escape", "<script>x</script> & co", "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>\n"},
		{"not a heading", "#tag", "<p>#tag</p>\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := markdown.Render(tt.in); got != tt.want {
				t.Fatalf("Render(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	s := start(t)
	want(t, "POST", s.md, "/render", "## Hi *there*", 200, "<h2>Hi <em>there</em></h2>")
	want(t, "GET", s.md, "/", "", 200, `"rendered":1`)
}

func TestRepoManager(t *testing.T) {
	s := start(t)
	want(t, "GET", s.repo, "/repos/nope", "", 404)
	want(t, "POST", s.repo, "/repos/..bad", "x", 400)
	want(t, "POST", s.repo, "/repos/clocal", "# clocal\n\nRun **Coding** locally.", 201, `"name":"clocal"`)
	want(t, "GET", s.repo, "/repos/clocal", "", 200, `<h1>clocal</h1>`, `<strong>Coding</strong>`, `"readme":"# clocal`)
	want(t, "GET", s.repo, "/repos", "", 200, `{"repos":["clocal"]}`)
}

func TestNotify(t *testing.T) {
	s := start(t)
	want(t, "POST", s.email, "/send", `{"to":"not an address","subject":"x"}`, 400)
	want(t, "POST", s.push, "/push", `{"user":"ann","message":"hi"}`, 404)
	// no device: app-push falls back to email-sender
	want(t, "POST", s.push, "/push", `{"user":"ann","message":"hi","email":"ann@example.com"}`, 202, `"via":"email"`)
	want(t, "GET", s.email, "/outbox", "", 200, `"to":"ann@example.com"`, `"body":"hi"`)
	want(t, "PUT", s.push, "/devices/ann", `{"token":"tok-1"}`, 204)
	want(t, "POST", s.push, "/push", `{"user":"ann","message":"hi again","email":"ann@example.com"}`, 202, `"via":"push"`)
	want(t, "GET", s.kv, "/kv/?prefix=push/", "", 200, `"push/`)
}

func TestAvatar(t *testing.T) {
	s := start(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
	want(t, "PUT", s.avatar, "/avatars/ann", "just text", 415)
	want(t, "PUT", s.avatar, "/avatars/ann", string(png), 200, `"content_type":"image/png"`)
	code, body, h := call(t, "GET", s.avatar, "/avatars/ann", "")
	if code != 200 || body != string(png) || h.Get("Content-Type") != "image/png" || h.Get("X-Avatar") != "stored" {
		t.Fatalf("GET stored avatar: %d %q %v", code, body, h)
	}
	code, body, h = call(t, "GET", s.avatar, "/avatars/bob", "")
	if code != 200 || !strings.HasPrefix(body, "<svg") || h.Get("X-Avatar") != "generated" || body != avatar.Identicon("bob") {
		t.Fatalf("GET generated avatar: %d %q %v", code, body, h)
	}
}

func TestBlog(t *testing.T) {
	s := start(t)
	want(t, "PUT", s.blog, "/posts/Bad_Slug", "x", 400)
	want(t, "PUT", s.blog, "/posts/coding-meets-docker", "# When Coding meets Docker\n\n*everything* in docker", 201)
	want(t, "GET", s.blog, "/posts/coding-meets-docker", "", 200, "<title>coding-meets-docker · Test Blog</title>", "<h1>When Coding meets Docker</h1>", "<em>everything</em>")
	want(t, "GET", s.blog, "/posts", "", 200, `{"posts":["coding-meets-docker"]}`)
	want(t, "GET", s.blog, "/posts/nope", "", 404)
}

func TestGitHook(t *testing.T) {
	s := start(t)
	want(t, "POST", s.hooks, "/hooks/push", `{"repo":"ghost","pusher":"ann"}`, 404, "unknown repository")
	want(t, "POST", s.repo, "/repos/clocal", "# clocal", 201)
	out := want(t, "POST", s.hooks, "/hooks/push", `{"repo":"clocal","ref":"refs/heads/main","pusher":"ann","email":"ann@example.com","commits":2}`, 202,
		`"push":"no device"`, `"email":"`)
	if !strings.Contains(out, s.repo) {
		t.Fatalf("reply %s does not name the owning repo-manager", out)
	}
	want(t, "GET", s.email, "/outbox", "", 200, `"subject":"[clocal] push"`, "ann pushed 2 commit(s) to main of clocal")
	want(t, "PUT", s.push, "/devices/ann", `{"token":"t"}`, 204)
	want(t, "POST", s.hooks, "/hooks/push", `{"repo":"clocal","pusher":"ann"}`, 202, `"push":"push:`)
	want(t, "GET", s.hooks, "/", "", 200, `"dispatched":2`)
}

func TestOwnerIsStable(t *testing.T) {
	d := &hooks.Dispatcher{RepoManagers: []string{"git-1:8866", "git-2:8866", "git-3:8866"}}
	seen := map[string]bool{}
	for _, r := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		o := d.Owner(r)
		if o != d.Owner(r) {
			t.Fatalf("owner of %s not stable", r)
		}
		seen[o] = true
	}
	if len(seen) < 2 {
		t.Fatalf("repos not spread over instances: %v", seen)
	}
}
