package router

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"sort"
)

//go:embed router.go
var source []byte

// localRepository is the repository of the router image on a daemon. It can be set at link
// time (-ldflags "-X github.com/clocal-dev/clocal/internal/router.localRepository=R"); tests
// that share a daemon with other tests do, so that the router image they create and remove
// is their own.
var localRepository = "clocal/router"

// Image is the router image's tag on a Docker daemon: the repository and the hash of the
// router's code, so a clocal with another router never runs an old one, however the image
// was made (internal/routerimage).
var Image = localRepository + ":" + Hash()

// programMain is the main package of the standalone router: the same code `clocal __router`
// runs, without the rest of clocal.
const programMain = `// Command router is clocal's router (see router/router.go), built on its own.
package main

import (
	"context"
	"os"

	"clocalrouter/router"
)

func main() { os.Exit(router.Run(context.Background(), os.Args[1:], os.Stderr)) }
`

// Program returns the files of the standalone router, a module of its own that a Go
// toolchain builds with `go build -o router .` (standard library only: no download).
func Program() map[string][]byte {
	return map[string][]byte{
		"go.mod":           []byte("module clocalrouter\n\ngo 1.18\n"),
		"main.go":          []byte(programMain),
		"router/router.go": append([]byte(nil), source...),
	}
}

// Hash names the router's code: 12 hex digits of the SHA-256 of the program's files. Every
// router image of this code, however it was made, carries it in its tag.
func Hash() string {
	files := Program()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(files[n])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
