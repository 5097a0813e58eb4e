package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/sshmux"
)

// Port forwards of a stack on an ssh:// Docker host.
//
// The stack's ports are published on the Docker host (on its 127.0.0.1 by default), which
// is another machine: to make every printed address answer here, one detached OpenSSH
// control master per stack holds one local forward (-L) per published port, laptop
// 127.0.0.1:P → Docker host 127.0.0.1:R. P is R when that port is free here (the familiar
// http://127.0.0.1:8866), another free port otherwise, and stays the same when a
// recreated container gets a new R. The master outlives the clocal process that started
// it (the addresses `up` printed keep answering) and ends with down, with the watch, and
// with an interrupted up. Its state is .clocal/projects/<name>/forwards.json.

const forwardsFile = "forwards.json"

type forwardState struct {
	Host     string       `json:"host"`   // the ssh:// URL
	Socket   string       `json:"socket"` // the master's control socket
	Forwards []forwardRec `json:"forwards"`
}

type forwardRec struct {
	Key    string `json:"key"`    // container/port/proto
	Local  string `json:"local"`  // host:port on this machine
	Remote string `json:"remote"` // host:port on the Docker host
}

// forwardWant is a published port that must answer here.
type forwardWant struct {
	Key    string
	Remote string // host:port on the Docker host
	Bind   string // address to listen on here
	Port   int    // preferred local port (the remote one)
}

func (s *Stack) forwardsPath() string { return filepath.Join(s.ProjectDir(), forwardsFile) }

func (s *Stack) loadForwards() forwardState {
	var st forwardState
	data, err := os.ReadFile(s.forwardsPath())
	if err == nil {
		_ = json.Unmarshal(data, &st)
	}
	return st
}

func (s *Stack) saveForwards(st forwardState) error {
	data, _ := json.MarshalIndent(st, "", "  ")
	_, err := s.writeState(forwardsFile, data)
	return err
}

// ensureForwards makes every wanted port answer here and returns the local address of each
// key. complete says want lists every published port of the stack: forwards of others are
// then cancelled.
func (s *Stack) ensureForwards(ctx context.Context, want []forwardWant, complete bool) (map[string]string, error) {
	unlock, err := s.lockForwards(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dest, err := sshmux.ParseURL(s.Hosts.Run.URL)
	if err != nil {
		return nil, err
	}
	st := s.loadForwards()
	var m *sshmux.Master
	if st.Socket != "" {
		if st.Host == dest.URL() {
			m, _ = sshmux.Attach(ctx, dest, st.Socket)
		} else if old, err := sshmux.ParseURL(st.Host); err == nil {
			// the stack moved to another host: its old forwards are dead ends
			if om, err := sshmux.Attach(ctx, old, st.Socket); err == nil {
				_ = om.Exit(ctx)
			}
		}
	}
	if m == nil {
		st = forwardState{}
		if len(want) == 0 {
			return map[string]string{}, nil
		}
		socket := sshmux.SocketPath("fwd-" + s.ProjectDir() + "-" + dest.URL())
		pctx, cancel := context.WithTimeout(ctx, s.Hosts.Run.PingTimeout())
		m, err = sshmux.Start(pctx, dest, socket, sshmux.Options{Detach: true})
		cancel()
		if err != nil {
			return nil, &engine.DaemonError{Host: s.Hosts.Run.URL, Err: err}
		}
		st = forwardState{Host: dest.URL(), Socket: socket}
		// Saved at once: a failure below must not leave a master nobody knows about.
		if err := s.saveForwards(st); err != nil {
			_ = m.Exit(ctx)
			return nil, err
		}
	}
	have := map[string]forwardRec{}
	for _, r := range st.Forwards {
		have[r.Key] = r
	}
	out := map[string]string{}
	keep := map[string]bool{}
	var errs []string
	for _, w := range want {
		keep[w.Key] = true
		r, ok := have[w.Key]
		if ok && r.Remote == w.Remote {
			out[w.Key] = r.Local
			continue
		}
		if ok {
			// same container port, new port on the Docker host (a recreated container):
			// keep the address this machine knows
			_ = m.Cancel(ctx, r.Local, r.Remote)
			if err := m.Forward(ctx, r.Local, w.Remote); err == nil {
				r.Remote = w.Remote
				have[w.Key], out[w.Key] = r, r.Local
				continue
			}
		}
		local, err := s.newForward(ctx, m, w)
		if err != nil {
			delete(have, w.Key)
			errs = append(errs, err.Error())
			continue
		}
		have[w.Key], out[w.Key] = forwardRec{Key: w.Key, Local: local, Remote: w.Remote}, local
	}
	if complete {
		for k, r := range have {
			if !keep[k] {
				_ = m.Cancel(ctx, r.Local, r.Remote)
				delete(have, k)
			}
		}
	}
	st.Forwards = st.Forwards[:0]
	for _, r := range have {
		st.Forwards = append(st.Forwards, r)
	}
	sort.Slice(st.Forwards, func(i, j int) bool { return st.Forwards[i].Key < st.Forwards[j].Key })
	if err := s.saveForwards(st); err != nil {
		return out, err
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("forward ports from %s: %s", s.Hosts.Run.URL, strings.Join(errs, "; "))
	}
	return out, nil
}

// newForward adds a forward for w on a free local port: the remote port number when it is
// free here, any free one otherwise (a port taken between the check and ssh's bind is
// retried with another).
func (s *Stack) newForward(ctx context.Context, m *sshmux.Master, w forwardWant) (string, error) {
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		port := 0
		if attempt == 0 {
			port = w.Port
		}
		local, err := freeAddr(w.Bind, port)
		if err != nil {
			if last == nil {
				last = err
			}
			continue
		}
		if err := m.Forward(ctx, local, w.Remote); err != nil {
			last = err
			continue
		}
		return local, nil
	}
	return "", fmt.Errorf("%s: %w", w.Key, last)
}

// freeAddr returns bind:port when that port is free here (port 0: a port the kernel picks).
func freeAddr(bind string, port int) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		return "", err
	}
	addr := l.Addr().(*net.TCPAddr)
	_ = l.Close()
	return net.JoinHostPort(bind, strconv.Itoa(addr.Port)), nil
}

// StopForwards ends the stack's port forwards (down, the end of a watch, an interrupted
// up): the ssh master exits, no process is left.
func (s *Stack) StopForwards() {
	if s.WS != nil {
		stopForwardsAt(s.WS.Root, s.Name)
	}
}

// stopForwardsAt is StopForwards for the stack name of the workspace at root.
func stopForwardsAt(root, name string) {
	dir := ProjectStateDir(root, name)
	path := filepath.Join(dir, forwardsFile)
	if _, err := os.Stat(path); err != nil {
		return // no forwards
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, _, err := lockProject(ctx, root, name+"/forwards", io.Discard, fileLockExclusive, true)
	if err != nil {
		return
	}
	defer unlock()
	var st forwardState
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &st)
	}
	if st.Socket != "" {
		if d, err := sshmux.ParseURL(st.Host); err == nil {
			if m, err := sshmux.Attach(ctx, d, st.Socket); err == nil {
				_ = m.Exit(ctx)
			}
		}
	}
	_ = os.Remove(path)
}

// RefreshForwards brings the forwards in line with the stack's running containers (no-op
// unless the stack runs on an ssh:// host).
func (s *Stack) RefreshForwards(ctx context.Context) error {
	if !s.Hosts.Run.IsSSH() {
		return nil
	}
	ctrs, err := s.Engine.Ps(ctx, s.Name, engine.PsOptions{Quick: true})
	if err != nil {
		return err
	}
	_, err = s.ContainerEndpoints(ctx, ctrs, true)
	return err
}

// ContainerEndpoints returns the published TCP ports of ctrs (containers of this stack) as
// addresses that answer on this machine: the daemon's own binding for a daemon on this
// machine, the laptop side of a port forward for an ssh:// host (Remote keeps the binding
// on the Docker host), the Docker host's address for a port it publishes on all its
// interfaces over tcp://. complete says ctrs are all the stack's containers: forwards of
// containers that are gone end. Endpoint.Service is each container's service.
func (s *Stack) ContainerEndpoints(ctx context.Context, ctrs []engine.Container, complete bool) ([]Endpoint, error) {
	var out []Endpoint
	var tcp []bool
	for _, c := range ctrs {
		for _, p := range c.Publishers {
			if p.PublishedPort == 0 || strings.Contains(p.HostIP, ":") {
				continue // not published, or the IPv6 duplicate of a binding
			}
			host := p.HostIP
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			e := Endpoint{Service: c.Service, Port: p.TargetPort, Host: host, HostPort: p.PublishedPort, Container: c.Name}
			if s.Remote() {
				e.Remote = net.JoinHostPort(host, strconv.Itoa(p.PublishedPort))
				e.DockerHost = s.Hosts.Run.URL
				if !s.Hosts.Run.IsSSH() && (p.HostIP == "" || p.HostIP == "0.0.0.0") {
					e.Host = s.Hosts.Run.Address()
				}
			}
			out = append(out, e)
			tcp = append(tcp, p.Protocol != "udp")
		}
	}
	if s.Hosts.Run.IsSSH() {
		bind := s.Convert.BindAddress
		if bind == "" {
			bind = "127.0.0.1"
		}
		keys := make([]string, len(out))
		var want []forwardWant
		for i, e := range out {
			if !tcp[i] {
				continue // ssh forwards TCP only
			}
			keys[i] = fmt.Sprintf("%s/%d/tcp", e.Container, e.Port)
			want = append(want, forwardWant{Key: keys[i], Remote: e.Remote, Bind: bind, Port: e.HostPort})
		}
		local, err := s.ensureForwards(ctx, want, complete)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if l, ok := local[keys[i]]; ok && keys[i] != "" {
				h, p, _ := net.SplitHostPort(l)
				out[i].Host = h
				out[i].HostPort, _ = strconv.Atoi(p)
			}
		}
	}
	for i := range out {
		out[i].URL = "http://" + net.JoinHostPort(out[i].Host, strconv.Itoa(out[i].HostPort))
	}
	return out, nil
}

// lockForwards serialises changes to the stack's port forwards across clocal processes (an
// up, a ps and a watch may all refresh them): the project lock's mechanism, on its own file
// (.clocal/projects/<name>/forwards/lock), so it never waits for an up in progress.
func (s *Stack) lockForwards(ctx context.Context) (func(), error) {
	unlock, _, err := lockProject(ctx, s.WS.Root, s.Name+"/forwards", io.Discard, fileLockExclusive, true)
	return unlock, err
}
