package engine

import (
	"errors"
	"fmt"
	"testing"
)

func TestPortConflict(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		port int
		ok   bool
	}{
		// Docker 20.10, port held by another container.
		{"Error response from daemon: driver failed programming external connectivity on endpoint web-1 (bd427a608afe): Bind for 127.0.0.1:36511 failed: port is already allocated", 36511, true},
		// Docker 20.10, port held by another process (docker-proxy cannot listen).
		{"Error response from daemon: driver failed programming external connectivity on endpoint web-1 (15f6bb4c8407): Error starting userland proxy: listen tcp4 127.0.0.1:56657: bind: address already in use", 56657, true},
		{"listen tcp4 127.0.0.1:8080: bind: address already in use", 8080, true},
		{"listen tcp6 [::1]:41000: bind: address already in use", 41000, true},
		{"Bind for 0.0.0.0:5432 failed: port is already allocated", 5432, true},
		{"Bind for [::]:5432 failed: port is already allocated", 5432, true},
		// Docker Desktop.
		{"Ports are not available: exposing port TCP 127.0.0.1:9000 -> 0.0.0.0:0: listen tcp 127.0.0.1:9000: bind: address already in use", 9000, true},
		// Not conflicts.
		{"listen tcp4 127.0.0.1:80: bind: permission denied", 0, false},
		{"Error response from daemon: No such image: clocal/web:1", 0, false},
		{"container web-1 exited (1)", 0, false},
		{"address already in use", 0, false},
		{"dial tcp 127.0.0.1:2375: connect: connection refused", 0, false},
	} {
		// As the engine returns it: wrapped with the project and service.
		err := fmt.Errorf("up p: start web: %w", errors.New(tc.msg))
		port, ok := PortConflict(err)
		if port != tc.port || ok != tc.ok {
			t.Errorf("PortConflict(%q) = %d, %v; want %d, %v", tc.msg, port, ok, tc.port, tc.ok)
		}
	}
	if _, ok := PortConflict(nil); ok {
		t.Error("PortConflict(nil) is a conflict")
	}
}
