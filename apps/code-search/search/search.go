// Package search is code-search's index: files by repository and path, searched line by line.
package search

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

// Index holds the indexed files. Safe for concurrent use.
type Index struct {
	mu    sync.RWMutex
	files map[string]map[string][]string // repo → path → lines
}

// New returns an empty index.
func New() *Index { return &Index{files: map[string]map[string][]string{}} }

// Hit is one matching line.
type Hit struct {
	Repo string `json:"repo"`
	Path string `json:"path"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// Put indexes (or replaces) a file.
func (x *Index) Put(repo, path, content string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.files[repo] == nil {
		x.files[repo] = map[string][]string{}
	}
	x.files[repo][path] = strings.Split(content, "\n")
}

// Search returns the lines containing q (case-insensitive), by repo, path and line, at most
// limit of them.
func (x *Index) Search(q string, limit int) []Hit {
	q = strings.ToLower(q)
	x.mu.RLock()
	defer x.mu.RUnlock()
	hits := []Hit{}
	if q == "" {
		return hits
	}
	for repo, paths := range x.files {
		for path, lines := range paths {
			for i, l := range lines {
				if strings.Contains(strings.ToLower(l), q) {
					hits = append(hits, Hit{repo, path, i + 1, l})
				}
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.Repo != b.Repo {
			return a.Repo < b.Repo
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Line < b.Line
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

// Register serves POST /index {repo, path, content} and GET /search?q=TEXT.
func (x *Index) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /index", func(w http.ResponseWriter, r *http.Request) {
		var f struct{ Repo, Path, Content string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&f); err != nil || f.Repo == "" || f.Path == "" {
			svc.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "want {repo, path, content}"})
			return
		}
		x.Put(f.Repo, f.Path, f.Content)
		svc.WriteJSON(w, http.StatusOK, map[string]string{"status": "indexed"})
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		svc.WriteJSON(w, http.StatusOK, map[string]any{"hits": x.Search(r.URL.Query().Get("q"), 100)})
	})
}
