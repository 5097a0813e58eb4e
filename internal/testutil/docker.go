// Package testutil holds helpers shared by tests that talk to the real Docker daemon.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// RequireDocker returns a client for the real daemon. When the daemon is unreachable the
// test is skipped on a developer machine but FAILS when CI=true: integration tests must
// never pass silently in CI.
func RequireDocker(t testing.TB) *client.Client {
	t.Helper()
	SkipInUnitLane(t, "the Docker daemon")
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var p types.Ping
		if p, err = cli.Ping(ctx); err == nil {
			// Settle the API version now: tests share this client across parallel
			// subtests, whose first requests would otherwise race to negotiate it.
			cli.NegotiateAPIVersionPing(p)
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the Docker daemon is unreachable: %v", err)
		}
		t.Skipf("Docker daemon unreachable (set CI=true to make this a failure): %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// NoBuildKit is a Docker client whose daemon offers no BuildKit (an old or non-Docker
// engine: the /grpc and /session upgrades fail), for fault injection: the real daemon
// has it.
type NoBuildKit struct{ client.APIClient }

// DialHijack fails as on a daemon without those endpoints.
func (NoBuildKit) DialHijack(context.Context, string, string, map[string][]string) (net.Conn, error) {
	return nil, errors.New("page not found")
}

// ImageEvents lists the image events (load, pull, tag, import, a build's tag...) of a
// daemon between since and until, as "ACTION ID".
func ImageEvents(t testing.TB, docker client.APIClient, since, until time.Time) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, errs := docker.Events(ctx, events.ListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Until:   fmt.Sprintf("%d.%09d", until.Unix(), until.Nanosecond()),
		Filters: filters.NewArgs(filters.Arg("type", "image")),
	})
	var out []string
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				return out
			}
			out = append(out, string(m.Action)+" "+m.Actor.ID)
		case err := <-errs:
			if err != nil && err != io.EOF {
				t.Fatalf("events: %v", err)
			}
			return out
		}
	}
}
