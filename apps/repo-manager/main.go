// Command repo-manager keeps repository metadata (in kvstore) and serves rendered READMEs
// (through markdown-renderer). Production runs several instances: repo-manager-1..3 on git-1..3.
package main

import (
	"github.com/clocal-dev/clocal/apps/internal/svc"
	"github.com/clocal-dev/clocal/apps/repo-manager/repos"
)

func main() {
	svc.Main("repo-manager", BuildMarker, "8866", func() (svc.Component, error) {
		return repos.New(svc.Env("kv_addr", "kv-1:7700"), svc.Env("markdown_addr", "md-1:9300")), nil
	})
}
