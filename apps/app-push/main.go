// Command app-push sends mobile notifications, falling back to email through email-sender,
// which runs on the same production host (notify-1) and is reached over localhost.
package main

import (
	"github.com/clocal-dev/clocal/apps/app-push/push"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func main() {
	svc.Main("app-push", BuildMarker, "8482", func() (svc.Component, error) {
		return &push.Pusher{KV: svc.KV{Addr: svc.Env("kv_addr", "kv-1:7700")}, EmailAddr: svc.Env("email_addr", "localhost:8481")}, nil
	})
}
