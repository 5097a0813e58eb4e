// Command coding-blog serves blog.coding.net: posts in kvstore, rendered by markdown-renderer.
package main

import (
	"github.com/clocal-dev/clocal/apps/coding-blog/blog"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func main() {
	svc.Main("coding-blog", BuildMarker, "8484", func() (svc.Component, error) {
		return &blog.Blog{
			KV:           svc.KV{Addr: svc.Env("kv_addr", "kv-1:7700")},
			MarkdownAddr: svc.Env("markdown_addr", "md-2:9300"),
			Title:        svc.Env("blog_title", "Coding Blog"),
		}, nil
	})
}
