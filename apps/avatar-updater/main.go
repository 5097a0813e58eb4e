// Command avatar-updater stores user avatars in kvstore.
//
// As in production, the kvstore address is baked into the build (defaultKV below) rather than
// set in the job file; that is why services/avatar-updater/service.yaml declares depends_on.
package main

import (
	"github.com/clocal-dev/clocal/apps/avatar-updater/avatar"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

// defaultKV is kvstore's production job name: a network alias under clocal.
const defaultKV = "kvstore-1:7700"

func main() {
	svc.Main("avatar-updater", BuildMarker, "8483", func() (svc.Component, error) {
		return &avatar.Updater{KV: svc.KV{Addr: svc.Env("kv_addr", defaultKV)}}, nil
	})
}
