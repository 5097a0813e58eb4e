// Command kvstore is the shared key-value store of the example services: GET/PUT/DELETE
// /kv/<key>, persisted to one file per key under $data_dir (production: the /data volume).
package main

import (
	"github.com/clocal-dev/clocal/apps/internal/svc"
	"github.com/clocal-dev/clocal/apps/kvstore/kv"
)

func main() {
	svc.Main("kvstore", BuildMarker, "7700", func() (svc.Component, error) {
		return kv.Open(svc.Env("data_dir", "/data"))
	})
}
