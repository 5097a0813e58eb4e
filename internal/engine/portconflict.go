package engine

import (
	"regexp"
	"strconv"
)

// portConflictRE matches the daemon's errors for a host port it could not publish because
// something else holds it: another container ("Bind for 127.0.0.1:P failed: port is already
// allocated") or any other process (docker-proxy's "listen tcp4 127.0.0.1:P: bind: address
// already in use"; Docker Desktop's "ports are not available: ... listen tcp 127.0.0.1:P:
// bind: ..."). The first group that matched is the port.
var portConflictRE = regexp.MustCompile(`Bind for \S*:(\d+) failed: port is already allocated|listen tcp[46]? \S*:(\d+): bind: (?:address already in use|Only one usage of each socket address)`)

// PortConflict returns the host port a create or start of a container failed to publish
// because the port was taken (by another container or process) between the moment it was
// chosen and the daemon's bind, and false for any other error.
func PortConflict(err error) (int, bool) {
	if err == nil {
		return 0, false
	}
	m := portConflictRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	for _, g := range m[1:] {
		if p, err := strconv.Atoi(g); err == nil && p > 0 && p < 65536 {
			return p, true
		}
	}
	return 0, false
}
