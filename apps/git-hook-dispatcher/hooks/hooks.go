// Package hooks is the git-hook-dispatcher service: a push hook is checked against the
// repo-manager instance that owns the repository, then announced by email (email-sender) and
// mobile push (app-push).
//
//	POST /hooks/push {"repo", "ref", "pusher", "email", "commits"} → 202 {...}
package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

// Push is a push hook from the git front end.
type Push struct {
	Repo    string `json:"repo"`
	Ref     string `json:"ref"`
	Pusher  string `json:"pusher"`
	Email   string `json:"email"`
	Commits int    `json:"commits"`
}

// Dispatcher serves /hooks.
type Dispatcher struct {
	RepoManagers []string // host:port of every repo-manager instance; a repo lives on one
	EmailAddr    string
	PushAddr     string
	dispatched   atomic.Int64
}

// Owner returns the repo-manager instance that owns repo (production shards repos by name).
func (d *Dispatcher) Owner(repo string) string {
	h := fnv.New32a()
	h.Write([]byte(repo))
	return d.RepoManagers[int(h.Sum32()%uint32(len(d.RepoManagers)))]
}

// Deps implements svc.Component.
func (d *Dispatcher) Deps() []svc.Dep {
	deps := []svc.Dep{}
	for _, a := range d.RepoManagers {
		deps = append(deps, svc.Dep{Name: "repo-manager", Addr: a})
	}
	return append(deps, svc.Dep{Name: "email-sender", Addr: d.EmailAddr}, svc.Dep{Name: "app-push", Addr: d.PushAddr})
}

// Info adds the number of hooks dispatched to GET /.
func (d *Dispatcher) Info() map[string]any { return map[string]any{"dispatched": d.dispatched.Load()} }

// Register implements svc.Component.
func (d *Dispatcher) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /hooks/push", func(w http.ResponseWriter, r *http.Request) {
		var p Push
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Repo == "" || p.Pusher == "" {
			svc.Error(w, http.StatusBadRequest, `want {"repo", "ref", "pusher", "email", "commits"}`)
			return
		}
		owner := d.Owner(p.Repo)
		err := svc.Get(r.Context(), owner, "/repos/"+p.Repo, nil)
		if errors.Is(err, svc.ErrNotFound) {
			svc.Error(w, http.StatusNotFound, "unknown repository "+p.Repo)
			return
		} else if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		branch := strings.TrimPrefix(p.Ref, "refs/heads/")
		if branch == "" {
			branch = "the default branch"
		}
		text := fmt.Sprintf("%s pushed %d commit(s) to %s of %s", p.Pusher, p.Commits, branch, p.Repo)
		out := map[string]string{"repo": p.Repo, "repo_manager": owner}
		if p.Email != "" {
			var m struct{ ID string }
			if err := svc.Post(r.Context(), d.EmailAddr, "/send", map[string]string{"to": p.Email, "subject": "[" + p.Repo + "] push", "body": text}, &m); err != nil {
				svc.Error(w, http.StatusBadGateway, err.Error())
				return
			}
			out["email"] = m.ID
		}
		var n struct{ Via, ID string }
		err = svc.Post(r.Context(), d.PushAddr, "/push", map[string]string{"user": p.Pusher, "message": text}, &n)
		switch {
		case errors.Is(err, svc.ErrNotFound):
			out["push"] = "no device"
		case err != nil:
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		default:
			out["push"] = n.Via + ":" + n.ID
		}
		d.dispatched.Add(1)
		svc.WriteJSON(w, http.StatusAccepted, out)
	})
}
