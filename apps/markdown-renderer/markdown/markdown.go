// Package markdown is the markdown-renderer service: POST /render turns a small subset of
// markdown (ATX headings, paragraphs, **strong**, *emphasis*, _emphasis_, `code`) into HTML.
package markdown

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

var (
	heading = regexp.MustCompile(`^(#{1,6})[ \t]+(.*?)[ \t#]*$`)
	strong  = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	emStar  = regexp.MustCompile(`\*([^*]+)\*`)
	emUnder = regexp.MustCompile(`(^|[^\w])_([^_]+)_([^\w]|$)`)
)

// Render converts markdown to HTML; all text is HTML-escaped.
func Render(src string) string {
	var b strings.Builder
	var para []string
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, "\n")) + "</p>\n")
			para = nil
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if m := heading.FindStringSubmatch(t); m != nil {
			flush()
			n := string(rune('0' + len(m[1])))
			b.WriteString("<h" + n + ">" + inline(m[2]) + "</h" + n + ">\n")
			continue
		}
		if t == "" {
			flush()
			continue
		}
		para = append(para, t)
	}
	flush()
	return b.String()
}

// inline renders code spans verbatim (escaped) and emphasis everywhere else.
func inline(s string) string {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 1 && i < len(parts)-1:
			b.WriteString("<code>" + html.EscapeString(p) + "</code>")
		default:
			if i%2 == 1 { // unmatched backtick
				b.WriteString("`")
			}
			e := html.EscapeString(p)
			e = strong.ReplaceAllString(e, "<strong>$1</strong>")
			e = emStar.ReplaceAllString(e, "<em>$1</em>")
			e = emUnder.ReplaceAllString(e, "$1<em>$2</em>$3")
			b.WriteString(e)
		}
	}
	return b.String()
}

// Renderer serves POST /render.
type Renderer struct{ rendered atomic.Int64 }

// Register implements svc.Component.
func (rd *Renderer) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /render", func(w http.ResponseWriter, r *http.Request) {
		src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			svc.Error(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		rd.rendered.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, Render(string(src)))
	})
}

// Info adds the number of documents rendered to GET /.
func (rd *Renderer) Info() map[string]any {
	return map[string]any{"rendered": rd.rendered.Load()}
}
