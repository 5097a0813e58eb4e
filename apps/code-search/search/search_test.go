package search

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func TestIndexSearch(t *testing.T) {
	srv := httptest.NewServer(svc.Handler("code-search", "test", New()))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/index", "application/json", strings.NewReader(`{"repo":"coding/blog","path":"main.go","content":"package main\nfunc Render() {}\n// render markdown"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("index: %v %v", resp, err)
	}
	resp.Body.Close()
	var out struct{ Hits []Hit }
	if err := svc.Get(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "/search?q=RENDER", &out); err != nil {
		t.Fatalf("search: %v", err)
	}
	if len(out.Hits) != 2 || out.Hits[0].Line != 2 || out.Hits[1].Text != "// render markdown" {
		t.Fatalf("hits = %+v", out.Hits)
	}
}
