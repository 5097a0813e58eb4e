// Package blog is the coding-blog service (blog.coding.net): posts are markdown kept in kvstore
// under "post/<slug>" and rendered to HTML pages by markdown-renderer.
//
//	PUT /posts/<slug>  body: markdown → 201 {"slug"}
//	GET /posts/<slug>  → text/html page
//	GET /posts         → {"posts": [...]}
package blog

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

var validSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,79}$`)

// Blog serves /posts.
type Blog struct {
	KV           svc.KV
	MarkdownAddr string
	Title        string
}

// Deps implements svc.Component.
func (b *Blog) Deps() []svc.Dep {
	return []svc.Dep{{Name: "kvstore", Addr: b.KV.Addr}, {Name: "markdown-renderer", Addr: b.MarkdownAddr}}
}

// Info adds the blog title to GET /.
func (b *Blog) Info() map[string]any { return map[string]any{"title": b.Title} }

// Register implements svc.Component.
func (b *Blog) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /posts", func(w http.ResponseWriter, r *http.Request) {
		keys, err := b.KV.List(r.Context(), "post/")
		if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		slugs := make([]string, 0, len(keys))
		for _, k := range keys {
			slugs = append(slugs, strings.TrimPrefix(k, "post/"))
		}
		svc.WriteJSON(w, http.StatusOK, map[string]any{"posts": slugs})
	})
	mux.HandleFunc("PUT /posts/{slug}", func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		if !validSlug.MatchString(slug) {
			svc.Error(w, http.StatusBadRequest, "slug must be lower-case letters, digits and dashes")
			return
		}
		md, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			svc.Error(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		if err := b.KV.Put(r.Context(), "post/"+slug, md); err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		svc.WriteJSON(w, http.StatusCreated, map[string]string{"slug": slug})
	})
	mux.HandleFunc("GET /posts/{slug}", func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		md, err := b.KV.Get(r.Context(), "post/"+slug)
		if errors.Is(err, svc.ErrNotFound) {
			http.Error(w, "no such post", http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, err := svc.Do(r.Context(), http.MethodPost, b.MarkdownAddr, "/render", "text/markdown", md)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html>\n<html><head><title>%s · %s</title></head>\n<body><article>\n%s</article></body></html>\n",
			html.EscapeString(slug), html.EscapeString(b.Title), body)
	})
}
