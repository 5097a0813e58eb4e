package engine

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/docker/docker/client"
)

// ErrNoShell: the machine of a Docker host reached other than over ssh cannot be asked
// anything but the Docker API.
var ErrNoShell = errors.New("not an ssh:// Docker host")

// Listener is a TCP socket listening on the machine of a Docker host.
type Listener struct {
	IP   net.IP
	Port int
}

// Conflicts reports whether a container port published on bind:port there would fail to
// bind because of l: same port, and the same address or either side on all addresses
// (0.0.0.0, ::, no IP; a dual-stack [::] listener takes IPv4 too).
func (l Listener) Conflicts(bind string, port int) bool {
	if l.Port != port {
		return false
	}
	b := net.ParseIP(strings.Trim(bind, "[]"))
	if bind == "localhost" {
		b = net.IPv4(127, 0, 0, 1)
	}
	return b == nil || b.IsUnspecified() || l.IP == nil || l.IP.IsUnspecified() || l.IP.Equal(b)
}

// HostListeners returns the TCP sockets listening on the machine an ssh:// Docker host runs
// on, read from its /proc/net/tcp and /proc/net/tcp6 over c's own ssh connection (one
// round trip): the ports a container cannot publish there although no container publishes
// them (a process of that machine, or another daemon's proxy). ErrNoShell for a client of
// another kind.
func HostListeners(ctx context.Context, c client.APIClient) ([]Listener, error) {
	sc, ok := c.(*sshClient)
	if !ok || sc.master == nil {
		return nil, ErrNoShell
	}
	// cat exits 1 when tcp6 is missing (IPv6 off): what it printed still counts.
	out, err := sc.master.Output(ctx, "cat", "/proc/net/tcp", "/proc/net/tcp6")
	ls := ParseProcNetTCP(string(out))
	if len(ls) == 0 && err != nil {
		return nil, fmt.Errorf("listening ports of %s: %w", sc.host, err)
	}
	return ls, nil
}

// ParseProcNetTCP reads the listening sockets (state 0A) of Linux's /proc/net/tcp and
// /proc/net/tcp6 (addresses as the kernel prints them: 32-bit words in the byte order of a
// little-endian machine, which every Docker host of x86-64 and arm64 is).
func ParseProcNetTCP(text string) []Listener {
	var out []Listener
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "0A" {
			continue // the header, or not listening
		}
		addr, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			continue
		}
		raw, err := hex.DecodeString(addr)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		ip := make(net.IP, len(raw))
		for i := 0; i < len(raw); i += 4 { // each 32-bit word is little-endian
			ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		out = append(out, Listener{IP: ip, Port: int(port)})
	}
	return out
}
