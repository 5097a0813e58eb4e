// Command git-hook-dispatcher fans git push hooks out to repo-manager, email-sender and app-push.
package main

import (
	"strings"

	"github.com/clocal-dev/clocal/apps/git-hook-dispatcher/hooks"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func main() {
	svc.Main("git-hook-dispatcher", BuildMarker, "8485", func() (svc.Component, error) {
		return &hooks.Dispatcher{
			RepoManagers: strings.FieldsFunc(svc.Env("repo_managers", "git-1:8866,git-2:8866,git-3:8866"), func(r rune) bool { return r == ',' || r == ' ' }),
			EmailAddr:    svc.Env("email_addr", "email-sender-1:8481"),
			PushAddr:     svc.Env("push_addr", "app-push-1:8482"),
		}, nil
	})
}
