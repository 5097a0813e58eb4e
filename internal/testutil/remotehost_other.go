//go:build !linux

package testutil

import (
	"context"
	"net"
	"os"
	"testing"

	"github.com/docker/docker/client"
)

// RemoteHost is a second Docker host in Linux namespaces (see remotehost.go).
type RemoteHost struct {
	Name, URL, Dir, BinDir, SSHConfig, Socket string
	Client                                    *client.Client
}

// StartRemoteHost needs Linux namespaces: the test is skipped (fails under CI=true).
func StartRemoteHost(t testing.TB) *RemoteHost {
	t.Helper()
	SkipInUnitLane(t, "a second Docker host")
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: the second Docker host needs Linux namespaces")
	}
	t.Skip("the second Docker host needs Linux namespaces")
	return nil
}

// Env is environ unchanged.
func (h *RemoteHost) Env(environ []string) []string { return environ }

// Vanish does nothing.
func (h *RemoteHost) Vanish() {}

// SSHProcesses is empty.
func (h *RemoteHost) SSHProcesses() []string { return nil }

// MissingError says what this machine lacks to run a second Docker host.
type MissingError struct{ What string }

func (e *MissingError) Error() string { return e.What }

// NewRemoteHost needs Linux namespaces.
func NewRemoteHost(ctx context.Context, local client.APIClient) (*RemoteHost, error) {
	return nil, &MissingError{What: "the second Docker host needs Linux namespaces"}
}

// Close does nothing.
func (h *RemoteHost) Close() error { return nil }

// Listen needs Linux namespaces (StartRemoteHost stopped the test before).
func (h *RemoteHost) Listen(t testing.TB, addr string) net.Listener {
	t.Fatal("the second Docker host needs Linux namespaces")
	return nil
}

// StartRegistry needs Linux namespaces (StartRemoteHost stopped the test before).
func (h *RemoteHost) StartRegistry(t testing.TB) string {
	t.Fatal("the second Docker host needs Linux namespaces")
	return ""
}
