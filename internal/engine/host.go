package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/cli/cli/flags"
	dopts "github.com/docker/cli/opts"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/sshmux"
)

// Host is a Docker daemon endpoint, resolved the way the docker CLI resolves it: -H (host),
// else DOCKER_HOST, else the docker context (--context, DOCKER_CONTEXT, the current context
// of ~/.docker/config.json), else the default socket.
type Host struct {
	// URL is the daemon address: unix:///var/run/docker.sock, ssh://me@devbox,
	// tcp://10.0.0.5:2376...
	URL string `json:"url"`
	// Context is the docker context the URL comes from ("" for -H, DOCKER_HOST and the
	// default context).
	Context string `json:"context,omitempty"`
}

// Scheme is the URL scheme: unix, ssh, tcp, npipe, fd.
func (h Host) Scheme() string {
	s, _, _ := strings.Cut(h.URL, "://")
	return s
}

// IsSSH reports whether the daemon is reached over ssh.
func (h Host) IsSSH() bool { return h.Scheme() == "ssh" }

// Local reports whether the daemon runs on this machine, so that the ports its containers
// publish on 127.0.0.1 answer here: Unix sockets, named pipes and TCP to a loopback
// address. ssh:// and other TCP hosts are remote.
func (h Host) Local() bool {
	switch h.Scheme() {
	case "unix", "npipe", "fd":
		return true
	case "tcp", "http", "https":
		_, rest, _ := strings.Cut(h.URL, "://")
		hostport, _, _ := strings.Cut(rest, "/")
		name, _, err := net.SplitHostPort(hostport)
		if err != nil {
			name = hostport
		}
		if name == "localhost" {
			return true
		}
		ip := net.ParseIP(strings.Trim(name, "[]"))
		return ip != nil && ip.IsLoopback()
	}
	return false
}

// Address is the host name of a remote daemon (devbox for ssh://me@devbox:2222), "" for a
// local one.
func (h Host) Address() string {
	if h.Local() {
		return ""
	}
	_, rest, _ := strings.Cut(h.URL, "://")
	hostport, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(hostport, '@'); i >= 0 {
		hostport = hostport[i+1:]
	}
	if name, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.Trim(name, "[]")
	}
	return hostport
}

// String is the URL, with the context it comes from: "ssh://devbox (docker context devbox)".
func (h Host) String() string {
	if h.Context != "" && h.Context != command.DefaultContextName {
		return fmt.Sprintf("%s (docker context %s)", h.URL, h.Context)
	}
	return h.URL
}

// Timeouts for the first contact with a daemon: a local socket answers at once, an ssh
// host needs a TCP connect and a key exchange (ssh's own ConnectTimeout is 10 s), a remote
// TCP daemon a round trip or two over the network.
const (
	PingTimeoutSSH = 12 * time.Second
	PingTimeoutTCP = 5 * time.Second
)

// PingTimeout is how long the first contact with this daemon may take before it counts as
// unreachable.
func (h Host) PingTimeout() time.Duration {
	switch {
	case h.IsSSH():
		return PingTimeoutSSH
	case h.Local():
		return PingTimeout
	default:
		return PingTimeoutTCP
	}
}

// ResolveHost returns the daemon the docker CLI would talk to with -H host and --context
// contextName (both optional).
func ResolveHost(host, contextName string) (Host, error) {
	opts := clientOptions(host, contextName)
	cfg := config.LoadDefaultConfigFile(io.Discard)
	name := contextNameOf(opts, cfg)
	if name == command.DefaultContextName {
		u, err := serverHost(opts)
		if err != nil {
			return Host{}, fmt.Errorf("docker host: %w", err)
		}
		return Host{URL: u}, nil
	}
	meta, err := contextStore().GetMetadata(name)
	if err != nil {
		return Host{}, fmt.Errorf("docker context %q: %w (list them with: docker context ls)", name, err)
	}
	ep, err := docker.EndpointFromContext(meta)
	if err != nil {
		return Host{}, fmt.Errorf("docker context %q: %w", name, err)
	}
	if ep.Host == "" {
		return Host{}, fmt.Errorf("docker context %q has no docker host", name)
	}
	return Host{URL: ep.Host, Context: name}, nil
}

// contextStore is the docker CLI's context store (DOCKER_CONFIG's contexts folder).
func contextStore() store.Store {
	return store.New(config.ContextStoreDir(), command.DefaultContextStoreConfig())
}

// ContextNames lists the docker contexts (`docker context ls`): "default" and those in the
// docker CLI's context store.
func ContextNames() []string {
	names := []string{command.DefaultContextName}
	list, err := contextStore().List()
	if err != nil {
		return names
	}
	for _, m := range list {
		names = append(names, m.Name)
	}
	sort.Strings(names[1:])
	return names
}

// ThisMachine returns the Docker daemon of this machine: run itself when it is local, else
// the current docker context when that one is local (DOCKER_HOST aside), else the default
// socket (unix:///var/run/docker.sock). Build scripts that run `docker` use it when the
// stack runs on a remote host.
func ThisMachine(run Host) Host {
	if run.Local() {
		return run
	}
	cfg := config.LoadDefaultConfigFile(io.Discard)
	name := os.Getenv(command.EnvOverrideContext)
	if name == "" {
		name = cfg.CurrentContext
	}
	if name != "" && name != command.DefaultContextName {
		if h, err := ResolveHost("", name); err == nil && h.Local() {
			return h
		}
	}
	u, _ := dopts.ParseHost(false, "")
	return Host{URL: u}
}

// contextNameOf is the docker CLI's choice of context (cli/command.resolveContextName).
func contextNameOf(opts *flags.ClientOptions, cfg *configfile.ConfigFile) string {
	switch {
	case opts.Context != "":
		return opts.Context
	case len(opts.Hosts) > 0, os.Getenv(client.EnvOverrideHost) != "":
		return command.DefaultContextName
	case os.Getenv(command.EnvOverrideContext) != "":
		return os.Getenv(command.EnvOverrideContext)
	case cfg != nil && cfg.CurrentContext != "":
		return cfg.CurrentContext
	}
	return command.DefaultContextName
}

// serverHost is the default context's host (cli/command.getServerHost).
func serverHost(opts *flags.ClientOptions) (string, error) {
	tls := opts.TLSOptions != nil
	if len(opts.Hosts) > 0 {
		return dopts.ParseHost(tls, opts.Hosts[0])
	}
	return dopts.ParseHost(tls, os.Getenv(client.EnvOverrideHost))
}

// hostOf is the Host a client talks to (for messages).
func hostOf(c client.APIClient) Host {
	if s, ok := c.(*sshClient); ok {
		return s.host
	}
	if c == nil {
		return Host{}
	}
	return Host{URL: c.DaemonHost()}
}

// newClient returns an API client for h (not yet pinged). ssh:// hosts get a client whose
// connections are sessions of one ssh control master of this process.
func newClient(ctx context.Context, h Host, opts *flags.ClientOptions, cfg *configfile.ConfigFile) (client.APIClient, error) {
	if !h.IsSSH() {
		c, err := command.NewAPIClientFromFlags(opts, cfg)
		if err != nil {
			return nil, fmt.Errorf("docker endpoint: %w", err)
		}
		return c, nil
	}
	d, err := sshmux.ParseURL(h.URL)
	if err != nil {
		return nil, fmt.Errorf("docker endpoint %s: %w", h, err)
	}
	pctx, cancel := context.WithTimeout(ctx, h.PingTimeout())
	defer cancel()
	sm, release, err := masters.acquire(pctx, d)
	if err != nil {
		return nil, &DaemonError{Host: h.URL, Err: err}
	}
	c, err := client.NewClientWithOpts(
		// One transport per master: the clients of a process (the engine's, the builder's)
		// reuse each other's idle sessions.
		client.WithHTTPClient(&http.Client{Transport: sm.transport}),
		client.WithHost("http://docker.example.com"),
		client.WithDialContext(sm.dial),
		client.WithVersionFromEnv(),
		client.WithUserAgent(command.UserAgent()),
	)
	if err != nil {
		release()
		return nil, fmt.Errorf("docker endpoint %s: %w", h, err)
	}
	return &sshClient{Client: c, host: h, master: sm.m, release: release}, nil
}

// sshClient is an API client over this process's ssh control master to the host; Close
// lets the master go when no other client uses it.
type sshClient struct {
	*client.Client
	host    Host
	master  *sshmux.Master // runs commands on the host (HostListeners)
	release func()
	once    sync.Once
}

// DaemonHost is the ssh:// URL (errors and proxy settings name the real host).
func (c *sshClient) DaemonHost() string { return c.host.URL }

// Close closes the client's connections and releases the master.
func (c *sshClient) Close() error {
	err := c.Client.Close()
	c.once.Do(c.release)
	return err
}

// masterSet shares one ssh control master per host among the clients of this process.
type masterSet struct {
	mu sync.Mutex
	m  map[string]*sharedMaster
}

type sharedMaster struct {
	m         *sshmux.Master
	refs      int
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	transport *http.Transport
}

var masters = &masterSet{m: map[string]*sharedMaster{}}

// acquire returns the process's master for d (starting it when there is none, or the last
// one died), and the function that releases it: the last release stops it.
func (s *masterSet) acquire(ctx context.Context, d sshmux.Dest) (*sharedMaster, func(), error) {
	key := d.URL()
	s.mu.Lock()
	defer s.mu.Unlock()
	sm := s.m[key]
	if sm == nil || sm.m.Exited() {
		socket := sshmux.SocketPath(fmt.Sprintf("api-%d-%s", os.Getpid(), key))
		m, err := sshmux.Start(ctx, d, socket, sshmux.Options{})
		if err != nil {
			return nil, nil, err
		}
		sm = &sharedMaster{m: m}
		sm.dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return m.Dial(ctx, d.DockerCommand()...)
		}
		// Each connection is an ssh session and a `docker system dial-stdio` process on the
		// host: keep enough of them idle for compose's parallel calls.
		sm.transport = &http.Transport{DialContext: sm.dial, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}
		s.m[key] = sm
	}
	sm.refs++
	var once sync.Once
	return sm, func() { once.Do(func() { s.release(key, sm) }) }, nil
}

func (s *masterSet) release(key string, sm *sharedMaster) {
	s.mu.Lock()
	sm.refs--
	last := sm.refs <= 0
	if last && s.m[key] == sm {
		delete(s.m, key)
	}
	s.mu.Unlock()
	if last {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sm.transport.CloseIdleConnections()
		_ = sm.m.Exit(ctx)
	}
}
