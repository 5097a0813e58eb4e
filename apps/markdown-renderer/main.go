// Command markdown-renderer compiles markdown to HTML for repo-manager and coding-blog.
// It has no dependencies.
package main

import (
	"github.com/clocal-dev/clocal/apps/internal/svc"
	"github.com/clocal-dev/clocal/apps/markdown-renderer/markdown"
)

func main() {
	svc.Main("markdown-renderer", BuildMarker, "9300", func() (svc.Component, error) {
		return &markdown.Renderer{}, nil
	})
}
