// Command email-sender queues outgoing emails in kvstore. In production it shares the host
// notify-1 with app-push, which reaches it over localhost.
package main

import (
	"github.com/clocal-dev/clocal/apps/email-sender/mail"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func main() {
	svc.Main("email-sender", BuildMarker, "8481", func() (svc.Component, error) {
		return &mail.Sender{KV: svc.KV{Addr: svc.Env("kv_addr", "kv-1:7700")}, From: svc.Env("mail_from", "noreply@coding.net")}, nil
	})
}
