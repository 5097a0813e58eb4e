package engine

import (
	"github.com/docker/compose/v2/pkg/api"

	"github.com/clocal-dev/clocal/internal/version"
)

func init() {
	// compose writes api.ComposeVersion into com.docker.compose.version; the library leaves
	// it empty unless its internal.Version is set at link time. Projects are loaded (and
	// their labels set) by convert.Load, with the same version.
	if api.ComposeVersion == "" {
		api.ComposeVersion = version.Compose()
	}
}
