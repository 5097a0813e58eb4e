// Package registry is how clocal reaches image registries: it pulls the images a stack
// runs but does not build (and the base images of the builds) through the Docker daemon,
// with the user's credentials and a pull policy, showing progress per image; and it asks
// registries directly (Registry HTTP API v2, through go-containerregistry) for a tag's
// digest and a repository's tags.
//
// Credentials come from the user's Docker config exactly as the docker CLI finds them
// ($DOCKER_CONFIG or ~/.docker/config.json; "auths", "credsStore" and "credHelpers", the
// docker-credential-* helpers included). They are handed to the daemon or the registry
// and never printed, stored or put into an error.
package registry

import (
	"context"
	"os"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	registrytypes "github.com/docker/docker/api/types/registry"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Auth reads registry credentials from the user's Docker config. The zero value (and a
// nil *Auth) has no credentials. Safe for concurrent use.
type Auth struct {
	once sync.Once
	// Load returns the Docker config; default: the docker CLI's (config.LoadDefaultConfigFile).
	Load func() *configfile.ConfigFile
	cfg  *configfile.ConfigFile
	mu   sync.Mutex // credential helpers are processes; one at a time
}

// DockerAuth returns the credentials of the user's Docker config, loaded on first use.
func DockerAuth() *Auth {
	return &Auth{}
}

// Config returns the Docker config file (an empty one when there is none).
func (a *Auth) Config() *configfile.ConfigFile {
	if a == nil {
		return configfile.New("")
	}
	a.once.Do(func() {
		if a.Load != nil {
			a.cfg = a.Load()
		} else {
			// Like the docker CLI: $DOCKER_CONFIG or ~/.docker; a broken file is
			// reported by the docker CLI itself, clocal goes on without credentials.
			// DOCKER_CONFIG is read here each time, not through config.Dir, which
			// keeps the first value a process saw (a long-lived process, or a test
			// setting its own config, would read a stale folder).
			cfg, _ := config.Load(os.Getenv(config.EnvOverrideConfigDir))
			if cfg != nil && !cfg.ContainsAuth() {
				cfg.CredentialsStore = credentials.DetectDefaultStore(cfg.CredentialsStore)
			}
			a.cfg = cfg
		}
		if a.cfg == nil {
			a.cfg = configfile.New("")
		}
	})
	return a.cfg
}

// Encoded returns the X-Registry-Auth value for pulling ref, as `docker pull` sends it
// ("" when no credentials are configured for its registry).
func (a *Auth) Encoded(ref string) string {
	if a == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	enc, err := command.RetrieveAuthTokenFromImage(a.Config(), ref)
	if err != nil {
		// A failing credential helper: pull anonymously (the registry then says whether
		// that is enough) rather than pass the helper's message on.
		return ""
	}
	return enc
}

// All returns every configured credential by registry, for the classic builder (what
// `docker build` sends so that FROM images of any registry can be pulled).
func (a *Auth) All() map[string]registrytypes.AuthConfig {
	out := map[string]registrytypes.AuthConfig{}
	if a == nil {
		return out
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	creds, err := a.Config().GetAllCredentials()
	if err != nil {
		return out
	}
	for k, c := range creds {
		out[k] = registrytypes.AuthConfig{Username: c.Username, Password: c.Password, Auth: c.Auth,
			ServerAddress: c.ServerAddress, IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}
	}
	return out
}

// Keychain returns the credentials for go-containerregistry, found as the docker CLI finds
// them (the hub under its historical key "https://index.docker.io/v1/").
func (a *Auth) Keychain() authn.Keychain { return keychain{a} }

type keychain struct{ a *Auth }

func (k keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

func (k keychain) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	if k.a == nil {
		return authn.Anonymous, nil
	}
	key := target.RegistryStr()
	if key == "index.docker.io" || key == "docker.io" {
		key = authn.DefaultAuthKey
	}
	k.a.mu.Lock()
	c, err := k.a.Config().GetAuthConfig(key)
	k.a.mu.Unlock()
	if err != nil || (c.Username == "" && c.Password == "" && c.Auth == "" && c.IdentityToken == "" && c.RegistryToken == "") {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password, Auth: c.Auth,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}), nil
}

// Host returns the registry of an image reference as docker names it: "docker.io" for
// Docker Hub images ("redis:7", "team/app"), else the host[:port] before the first slash.
func Host(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		if i := strings.IndexByte(ref, '/'); i > 0 && strings.ContainsAny(ref[:i], ".:") {
			return ref[:i]
		}
		return "docker.io"
	}
	return reference.Domain(named)
}

// Repository returns the repository path of ref inside its registry ("team/app" for
// "127.0.0.1:5000/team/app:1", "library/redis" for "redis:7").
func Repository(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.Path(named)
}

// Normalize returns the full reference docker uses for ref, with the default tag when it
// has neither tag nor digest ("redis" → "docker.io/library/redis:latest").
func Normalize(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(named).String(), nil
}
