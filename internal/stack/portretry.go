package stack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// PortRetries bounds the ups of one Up that a port clocal picked can fail: the port is
// free when picked (FreePort) and bound by the daemon later, and in between another
// process can take it (a parallel stack picking too, an outgoing connection's ephemeral
// port). Each retry publishes the service on another port.
const PortRetries = 3

// portPicks are the host ports clocal chose itself during one Up, over its renders, and
// those the daemon could not bind.
type portPicks struct {
	picked map[int]bool // FreePort's ports, and kept ports that are not production ports
	avoid  map[int]bool // ports a start failed to bind: neither kept nor picked again
}

func newPortPicks() *portPicks {
	return &portPicks{picked: map[int]bool{}, avoid: map[int]bool{}}
}

// apply drops the ports to avoid from the kept host ports and wraps FreePort so that it
// records what it picks and never returns a port to avoid. A nil portPicks changes nothing.
func (pp *portPicks) apply(opts *convert.Options) {
	if pp == nil {
		return
	}
	kept := map[string]map[int]int{}
	for owner, ports := range opts.HostPorts {
		for target, h := range ports {
			if pp.avoid[h] {
				continue // this service's port is forgotten: it gets another one
			}
			if h != target {
				pp.picked[h] = true // chosen by clocal (or the daemon), not asked for
			}
			if kept[owner] == nil {
				kept[owner] = map[int]int{}
			}
			kept[owner][target] = h
		}
	}
	opts.HostPorts = kept
	pick := opts.FreePort
	if pick == nil {
		return
	}
	opts.FreePort = func() (int, error) {
		for range 20 {
			h, err := pick()
			if err != nil {
				return 0, err
			}
			if !pp.avoid[h] {
				pp.picked[h] = true
				return h, nil
			}
		}
		return 0, fmt.Errorf("no free port but ports that could not be published")
	}
}

// upPicked brings p up; when the daemon cannot publish a host port clocal picked because
// something took it meanwhile, it renders the project again with another port for that
// service and ups again (at most PortRetries ups in all; the project lock is the caller's).
// A production port the user asked for is never moved: that failure is returned as is.
func (s *Stack) upPicked(ctx context.Context, sel *workspace.Selection, images map[string]string, p *types.Project, plan *convert.Plan, uo engine.UpOptions, picks *portPicks) (*types.Project, *convert.Plan, error) {
	err := s.Engine.Up(ctx, p, uo)
	for try := 1; err != nil && try < PortRetries && ctx.Err() == nil; try++ {
		port, ok := engine.PortConflict(err)
		if !ok || !picks.picked[port] {
			break
		}
		picks.avoid[port] = true
		fmt.Fprintf(s.Out, "port %d was taken by another process before it could be published; publishing on another port\n", port)
		np, nplan, lerr := s.load(ctx, sel, images, true, ProjectHostPorts(p), picks)
		if lerr != nil {
			return nil, nil, lerr
		}
		p, plan = np, nplan
		err = s.Engine.Up(ctx, p, uo)
	}
	if err != nil {
		return nil, nil, err
	}
	return p, plan, nil
}

// ephemeralRangeFile is where Linux keeps the range its outgoing connections' local ports
// (and the Docker daemon's own host-port choices) come from.
var ephemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// pickRange is where freePort picks: the ports above the kernel's ephemeral range, else
// those between 10000 and its start, when either holds at least 1024 ports; (0, 0) where
// the range cannot be read (not Linux) or leaves no room: the kernel picks then.
func pickRange() (lo, hi int) {
	b, err := os.ReadFile(ephemeralRangeFile)
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	first, err1 := strconv.Atoi(f[0])
	last, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || first > last {
		return 0, 0
	}
	const room = 1024
	switch {
	case 65535-last >= room:
		return last + 1, 65535
	case first-10000 >= room:
		return 10000, first - 1
	}
	return 0, 0
}

// freePort returns a port of bind nothing listens on now. It is drawn at random (each
// process its own sequence) outside the kernel's ephemeral range, so that no outgoing
// connection and no daemon-chosen port takes it before the daemon binds it, and parallel
// clocal processes rarely draw the same one (upPicked handles the rest); where that range
// is unknown the kernel picks.
func freePort(bind string) (int, error) {
	host := strings.Trim(bind, "[]")
	if lo, hi := pickRange(); lo > 0 {
		for range 64 {
			p := lo + rand.IntN(hi-lo+1)
			if bindable(host, p) {
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", bind, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
