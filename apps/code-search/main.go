// Command code-search indexes source files and answers line searches over them. It has no
// dependencies. Unlike the other example services, its production build compiles inside a
// toolchain container (services/code-search/build.sh), as the article's build.sh does.
package main

import (
	"github.com/clocal-dev/clocal/apps/code-search/search"
	"github.com/clocal-dev/clocal/apps/internal/svc"
)

func main() {
	svc.Main("code-search", BuildMarker, "8990", func() (svc.Component, error) {
		return search.New(), nil
	})
}
