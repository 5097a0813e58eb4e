// Package ui serves clocal's status page: a small HTTP server on the loopback interface
// that shows a running stack live (services with state, health, addresses, image, last
// build and restarts; the dependency graph; logs; the dev loop's events) and acts on it
// (restart, rebuild, stop, start) through the same stack and dev loop code as the CLI.
//
// The page is plain HTML, CSS and one small script, embedded in the binary: no CDN, no Node
// toolchain. Updates reach the browser as server-sent events; nothing polls from the page.
// Every request must carry the token printed with the URL (a cookie is set on the first
// visit), and actions are POSTs that must also carry it in a header and come from the page's
// own origin.
//
// The server reads the stack through the small [Source] interface: [StackSource] is the real
// one (internal/stack), tests use a fake.
package ui

import (
	"context"
	"time"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Source is what the page shows and acts on.
type Source interface {
	// Snapshot returns the stack as it is now. A Docker daemon that cannot be reached is
	// not an error: Snapshot.Daemon says so and the services keep their last known state.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Watch runs until ctx ends: it calls changed when the snapshot may have changed
	// (container events, builds, the stack's state) and event for each dev loop event,
	// the ones logged before Watch started first.
	Watch(ctx context.Context, changed func(), event func(devloop.Event))
	// Logs follows the logs of services (nil: all), starting with tail lines of each,
	// until ctx ends or the daemon goes away.
	Logs(ctx context.Context, services []string, tail string, sink engine.LogSink) error
	// Act runs an action (see Actions) on a service and returns when it is done.
	Act(ctx context.Context, action, service string) error
	// Record logs an event of the page itself (an action asked for, done or failed), so
	// that it shows with the dev loop's events, in this page and any other.
	Record(e devloop.Event)
}

// Actions are the verbs of the page's buttons.
var Actions = []string{"restart", "rebuild", "stop", "start"}

// Snapshot is the state of the stack the page shows.
type Snapshot struct {
	Project string   `json:"project"`
	Targets []string `json:"targets"`
	// Up is false when the stack has no recorded state (never started here, or taken down).
	Up bool `json:"up"`
	// Daemon is "" when the Docker daemon answers, else why it does not (the page says
	// it is reconnecting).
	Daemon string `json:"daemon,omitempty"`
	// Error is why the stack could not be read otherwise (a workspace file that no longer
	// loads, say); the page shows it and keeps the last services.
	Error    string    `json:"error,omitempty"`
	Services []Service `json:"services"`
	// Graph is the dependency graph of the trimmed stack (drawn by the server as SVG).
	Graph *workspace.Graph `json:"-"`
}

// Service is one row of the page.
type Service struct {
	Name string `json:"name"`
	// Kind is "service"; "host" for the pause service that owns a shared production host's
	// network namespace; "router" for the service standing for a production host whose jobs
	// run in several namespaces.
	Kind      string    `json:"kind"`
	Requested bool      `json:"requested,omitempty"` // named by a target
	Jobs      []string  `json:"jobs,omitempty"`
	Hosts     []string  `json:"hosts,omitempty"`
	Container string    `json:"container,omitempty"`
	State     string    `json:"state"`            // running, exited, … or "missing" (no container)
	Health    string    `json:"health,omitempty"` // starting, healthy, unhealthy
	Status    string    `json:"-"`                // the daemon's text ("Up 3 minutes"): changes every second, not sent
	ExitCode  int       `json:"exit_code,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	// Restarts counts the starts of the service's containers seen since the page began
	// (a restart, a replace, a crash brought back), plus restarts by Docker's own policy.
	Restarts int `json:"restarts"`
	// Held is true when the service was stopped on purpose (a watch leaves it stopped).
	Held  bool   `json:"held,omitempty"`
	Image string `json:"image,omitempty"`
	Built bool   `json:"built"` // the image is built by clocal (content hash), not a production image
	// Pinned is the image `clocal update` pinned the service to ("" when not pinned): it
	// runs that image instead of building.
	Pinned      string    `json:"pinned,omitempty"`
	PinnedSince time.Time `json:"pinned_since,omitzero"`
	Addresses   []Address `json:"addresses,omitempty"`
	Build       *Build    `json:"build,omitempty"`
}

// Address is a published port.
type Address struct {
	Port int    `json:"port"`
	URL  string `json:"url"`
}

// Build is the last build of a service.
type Build struct {
	Time     time.Time `json:"time"`
	Duration float64   `json:"duration_ms"`
	Script   float64   `json:"build_sh_ms,omitempty"`
	Image    float64   `json:"image_ms,omitempty"`
	Built    bool      `json:"built"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	Tail     []string  `json:"tail,omitempty"`
}
