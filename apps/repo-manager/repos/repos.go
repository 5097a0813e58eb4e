// Package repos is the repo-manager service: repository metadata lives in kvstore and READMEs
// are rendered by markdown-renderer.
//
//	POST /repos/<name>   body: README markdown → 201 {"name", "updated"}
//	GET  /repos/<name>   → {"name", "readme", "html", "updated"}
//	GET  /repos          → {"repos": [...]}
package repos

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Repo is what kvstore keeps under "repo/<name>".
type Repo struct {
	Name    string    `json:"name"`
	Readme  string    `json:"readme"`
	HTML    string    `json:"html,omitempty"`
	Updated time.Time `json:"updated"`
}

// Manager serves the /repos API.
type Manager struct {
	KV           svc.KV
	MarkdownAddr string
}

// New returns a Manager using kvstore at kvAddr and markdown-renderer at mdAddr (host:port).
func New(kvAddr, mdAddr string) *Manager {
	return &Manager{KV: svc.KV{Addr: kvAddr}, MarkdownAddr: mdAddr}
}

// Deps implements svc.Component: /healthz needs both.
func (m *Manager) Deps() []svc.Dep {
	return []svc.Dep{{Name: "kvstore", Addr: m.KV.Addr}, {Name: "markdown-renderer", Addr: m.MarkdownAddr}}
}

// Register implements svc.Component.
func (m *Manager) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /repos", func(w http.ResponseWriter, r *http.Request) {
		keys, err := m.KV.List(r.Context(), "repo/")
		if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		names := make([]string, 0, len(keys))
		for _, k := range keys {
			names = append(names, strings.TrimPrefix(k, "repo/"))
		}
		svc.WriteJSON(w, http.StatusOK, map[string]any{"repos": names})
	})
	mux.HandleFunc("POST /repos/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !validName.MatchString(name) {
			svc.Error(w, http.StatusBadRequest, "invalid repository name")
			return
		}
		readme, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			svc.Error(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		repo := Repo{Name: name, Readme: string(readme), Updated: time.Now().UTC()}
		if err := m.KV.PutJSON(r.Context(), "repo/"+name, repo); err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		svc.WriteJSON(w, http.StatusCreated, map[string]any{"name": name, "updated": repo.Updated})
	})
	mux.HandleFunc("GET /repos/{name}", func(w http.ResponseWriter, r *http.Request) {
		var repo Repo
		err := m.KV.GetJSON(r.Context(), "repo/"+r.PathValue("name"), &repo)
		if errors.Is(err, svc.ErrNotFound) {
			svc.Error(w, http.StatusNotFound, "no such repository")
			return
		} else if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		html, err := svc.Do(r.Context(), http.MethodPost, m.MarkdownAddr, "/render", "text/markdown", []byte(repo.Readme))
		if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		repo.HTML = string(html)
		svc.WriteJSON(w, http.StatusOK, repo)
	})
}
