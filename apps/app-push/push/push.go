// Package push is the app-push service: notifications go to the user's registered device
// (queued in kvstore under "push/<id>"); users without a device get an email instead, through
// email-sender on the same production host (localhost).
//
//	PUT  /devices/<user>  {"token"} → 204
//	POST /push            {"user", "message", "email"} → 202 {"via": "push"|"email", "id"}
package push

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

// Notification is one queued push.
type Notification struct {
	User    string    `json:"user"`
	Token   string    `json:"token"`
	Message string    `json:"message"`
	Queued  time.Time `json:"queued"`
}

// Pusher serves /devices and /push.
type Pusher struct {
	KV        svc.KV
	EmailAddr string // email-sender, "localhost:8481" in production
}

// Deps implements svc.Component.
func (p *Pusher) Deps() []svc.Dep {
	return []svc.Dep{{Name: "kvstore", Addr: p.KV.Addr}, {Name: "email-sender", Addr: p.EmailAddr}}
}

// Register implements svc.Component.
func (p *Pusher) Register(mux *http.ServeMux) {
	mux.HandleFunc("PUT /devices/{user}", func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.Token == "" {
			svc.Error(w, http.StatusBadRequest, `want {"token": "..."}`)
			return
		}
		if err := p.KV.Put(r.Context(), "device/"+r.PathValue("user"), []byte(d.Token)); err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /push", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ User, Message, Email string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.User == "" || in.Message == "" {
			svc.Error(w, http.StatusBadRequest, `want {"user", "message", "email"}`)
			return
		}
		token, err := p.KV.Get(r.Context(), "device/"+in.User)
		switch {
		case err == nil:
			id := svc.NewID()
			n := Notification{User: in.User, Token: string(token), Message: in.Message, Queued: time.Now().UTC()}
			if err := p.KV.PutJSON(r.Context(), "push/"+id, n); err != nil {
				svc.Error(w, http.StatusBadGateway, err.Error())
				return
			}
			svc.WriteJSON(w, http.StatusAccepted, map[string]string{"via": "push", "id": id})
		case errors.Is(err, svc.ErrNotFound) && in.Email != "":
			var out struct{ ID string }
			msg := map[string]string{"to": in.Email, "subject": "Coding notification", "body": in.Message}
			if err := svc.Post(r.Context(), p.EmailAddr, "/send", msg, &out); err != nil {
				svc.Error(w, http.StatusBadGateway, err.Error())
				return
			}
			svc.WriteJSON(w, http.StatusAccepted, map[string]string{"via": "email", "id": out.ID})
		case errors.Is(err, svc.ErrNotFound):
			svc.Error(w, http.StatusNotFound, "no device and no email for "+in.User)
		default:
			svc.Error(w, http.StatusBadGateway, err.Error())
		}
	})
}
