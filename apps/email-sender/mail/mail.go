// Package mail is the email-sender service: messages are validated and queued in kvstore
// under "mail/<id>" for the delivery worker.
//
//	POST /send    {"to", "subject", "body"} → 202 {"id"}
//	GET  /outbox  → {"messages": [...]} (queued, oldest first)
package mail

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

// Message is one queued email.
type Message struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Body    string    `json:"body"`
	Queued  time.Time `json:"queued"`
}

// Sender serves /send and /outbox.
type Sender struct {
	KV   svc.KV
	From string
}

// Deps implements svc.Component.
func (s *Sender) Deps() []svc.Dep { return []svc.Dep{{Name: "kvstore", Addr: s.KV.Addr}} }

// Info adds the sender address to GET /.
func (s *Sender) Info() map[string]any { return map[string]any{"from": s.From} }

// Register implements svc.Component.
func (s *Sender) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		var m Message
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<10)).Decode(&m); err != nil {
			svc.Error(w, http.StatusBadRequest, "bad JSON: "+err.Error())
			return
		}
		if _, err := mail.ParseAddress(m.To); err != nil {
			svc.Error(w, http.StatusBadRequest, "bad recipient: "+err.Error())
			return
		}
		if strings.TrimSpace(m.Subject) == "" {
			svc.Error(w, http.StatusBadRequest, "empty subject")
			return
		}
		m.ID, m.Queued = svc.NewID(), time.Now().UTC()
		if err := s.KV.PutJSON(r.Context(), "mail/"+m.ID, m); err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		svc.WriteJSON(w, http.StatusAccepted, map[string]string{"id": m.ID})
	})
	mux.HandleFunc("GET /outbox", func(w http.ResponseWriter, r *http.Request) {
		keys, err := s.KV.List(r.Context(), "mail/")
		if err != nil {
			svc.Error(w, http.StatusBadGateway, err.Error())
			return
		}
		msgs := []Message{}
		for _, k := range keys {
			var m Message
			if err := s.KV.GetJSON(r.Context(), k, &m); err == nil {
				msgs = append(msgs, m)
			}
		}
		svc.WriteJSON(w, http.StatusOK, map[string]any{"messages": msgs})
	})
}
