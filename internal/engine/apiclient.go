package engine

import (
	"context"
	"io"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/docker/client"
	"github.com/spf13/pflag"
)

// NewAPIClient returns a Docker Engine API client for the daemon the docker CLI would use
// (host, else DOCKER_HOST, else DOCKER_CONTEXT, else the current context), exactly as New
// resolves it, so that image builds and the compose engine always talk to the same daemon.
// It pings the daemon (within PingTimeout, a *DaemonError when it does not answer) and
// settles the API version then, as the engine does for its own client: the client is
// shared by goroutines (parallel builds, the watch's supervisor), and a Docker client left
// to negotiate on first use has its first concurrent requests race to write the version.
func NewAPIClient(ctx context.Context, host, contextName string) (client.APIClient, error) {
	h, err := ResolveHost(host, contextName)
	if err != nil {
		return nil, err
	}
	c, err := newClient(ctx, h, clientOptions(host, contextName), config.LoadDefaultConfigFile(io.Discard))
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// NewHostClient is NewAPIClient for a resolved host.
func NewHostClient(ctx context.Context, h Host) (client.APIClient, error) {
	if h.Context != "" {
		return NewAPIClient(ctx, "", h.Context)
	}
	return NewAPIClient(ctx, h.URL, "")
}

var installFlagsMu sync.Mutex

// clientOptions are the docker CLI's client options as `docker` would set them with no
// flags: DOCKER_TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (default ~/.docker) are read
// from the environment, then host (like -H) and contextName (like --context) apply.
func clientOptions(host, contextName string) *flags.ClientOptions {
	opts := flags.NewClientOptions()
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	// InstallFlags writes a package variable of the docker CLI (the default cert path):
	// parallel stacks connect concurrently.
	installFlagsMu.Lock()
	opts.InstallFlags(fs)
	installFlagsMu.Unlock()
	opts.SetDefaultOptions(fs)
	// InstallFlags fills ConfigDir with the default, and DockerCli.Initialize then calls
	// config.SetDir (a package variable again) for it: leave it empty, as the CLI does
	// without --config, so the default (DOCKER_CONFIG or ~/.docker) is used unchanged.
	opts.ConfigDir = ""
	if host != "" {
		opts.Hosts = []string{host}
	}
	opts.Context = contextName
	return opts
}
