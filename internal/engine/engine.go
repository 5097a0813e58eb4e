// Package engine runs compose projects on the local Docker daemon.
//
// clocal embeds github.com/docker/compose/v2 as a library: no `docker compose` binary is
// ever executed. The rest of clocal talks to the small [Engine] interface defined here;
// [New] returns the compose-library implementation and package enginetest holds a fake
// for unit tests.
//
// Projects handed to the engine come from clocal's one compose loader (convert.Load); every
// service must carry compose's bookkeeping labels (convert.SetComposeLabels) or ps, stop and
// down cannot find the containers. The engine never builds and never pulls images: they
// must already exist locally (clocal builds them through the Engine API and pulls the
// others first, package stack).
//
// Process-wide state: the compose library keeps its progress mode ([Options.ProgressMode])
// and the daemon's API version in package globals, and logs warnings through logrus'
// standard logger. [New] sets the progress mode and points logrus at [Options.Err]; the
// last call to New wins.
package engine

import (
	"context"
	"errors"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Engine is what clocal needs from a container engine. Every method is safe for
// concurrent use. Errors caused by an unreachable daemon match [ErrDaemonUnreachable].
type Engine interface {
	// Up creates (or converges) and starts the project's services. Only o.Services and
	// their dependencies are touched (nil: every service of p). Images are never built and
	// never pulled: a missing image is an error naming it. With o.Wait, Up returns once the
	// services are running (healthy when they define a healthcheck, or exited 0 for
	// one-shot services), or fails naming the services that are not ready.
	Up(ctx context.Context, p *types.Project, o UpOptions) error
	// Replace recreates the container of one service (new image or configuration) without
	// touching any other service: dependencies are neither created nor recreated nor
	// started, dependents are not stopped. Unless o.NoWait, it waits for the new container
	// to be ready like Up with Wait. Once it starts changing containers (create the new
	// one, stop and remove the old, rename, start) that change is not cut short by ctx
	// ending: it runs to the end (bounded by [ReplaceSettleTimeout]) so the service is
	// left with one started container, never a removed old container and an unstarted new
	// one; the wait is then skipped and the error is an [*InterruptedError] with Replaced.
	Replace(ctx context.Context, p *types.Project, service string, o ReplaceOptions) error
	// Down stops and removes the project's containers, its networks and the anonymous
	// volumes of its containers. Named volumes are removed only with o.Volumes. The
	// project is found by label, so no compose file is needed.
	Down(ctx context.Context, project string, o DownOptions) error
	// Ps lists the project's service containers (only running ones unless o.All), sorted
	// by service then name.
	Ps(ctx context.Context, project string, o PsOptions) ([]Container, error)
	// Logs copies container logs of the given services (nil: all) to sink, one call per
	// line. With o.Follow it keeps following (including containers started or recreated
	// later) until ctx is cancelled, and then returns nil.
	Logs(ctx context.Context, project string, services []string, o LogOptions, sink LogSink) error
	// Start starts existing (stopped) containers of the services (nil: all) and of their
	// dependencies.
	Start(ctx context.Context, project string, services []string) error
	// Stop stops the running containers of the services (nil: all).
	Stop(ctx context.Context, project string, services []string, o StopOptions) error
	// Restart restarts the containers of the services (nil: all), in parallel. Neither
	// dependencies nor dependents are restarted: list them if they should be.
	Restart(ctx context.Context, project string, services []string, o StopOptions) error
	// Wait waits until the services' containers (nil: every service with a container) are
	// ready, as Up with Wait does: running, healthy when they define a healthcheck. It fails
	// naming the services that are not ready (matching ErrNotReady); timeout 0 is no bound
	// other than ctx.
	Wait(ctx context.Context, project string, services []string, timeout time.Duration) error
	// Exec runs a command in the service's running container, using the streams given to
	// New. A command that ran returns its exit code and a nil error, whatever the code.
	Exec(ctx context.Context, project, service string, o ExecOptions) (exitCode int, err error)
	// Projects lists the compose projects found on the daemon by label (containers, plus
	// volumes and networks left behind by a down without volumes).
	Projects(ctx context.Context) ([]ProjectSummary, error)
	// Ping checks that the daemon answers, within its host's ping timeout (1.5 s for a
	// local daemon, longer over ssh or TCP: see Host.PingTimeout). The error matches
	// ErrDaemonUnreachable and says how to fix it.
	Ping(ctx context.Context) error
	// Reconnect drops the current daemon connection and makes a fresh one (for instance
	// after the daemon restarted under a long-running watch).
	Reconnect(ctx context.Context) error
	// Close releases the daemon connection.
	Close() error
}

// RecreatePolicy says when Up replaces an existing container.
type RecreatePolicy string

const (
	// RecreateDiverged replaces containers whose configuration or image changed (default).
	RecreateDiverged RecreatePolicy = "diverged"
	// RecreateForce always replaces containers.
	RecreateForce RecreatePolicy = "force"
	// RecreateNever keeps existing containers whatever changed.
	RecreateNever RecreatePolicy = "never"
)

// UpOptions configure [Engine.Up].
type UpOptions struct {
	// Services to bring up; nil means every service of the project. Their dependencies
	// are included unless NoDeps.
	Services []string
	// NoDeps leaves the dependencies of Services alone.
	NoDeps bool
	// Recreate applies to Services ("" = RecreateDiverged).
	Recreate RecreatePolicy
	// RecreateDependencies applies to the dependencies pulled in ("" = RecreateDiverged).
	RecreateDependencies RecreatePolicy
	// RemoveOrphans removes containers of services the project no longer declares.
	RemoveOrphans bool
	// RenewAnonVolumes gives recreated containers fresh anonymous volumes instead of
	// the previous container's.
	RenewAnonVolumes bool
	// StopTimeout bounds the graceful stop of replaced containers (nil: service default).
	StopTimeout *time.Duration
	// Wait waits until the services are ready (see [Engine.Up]).
	Wait bool
	// WaitTimeout bounds Wait (0: no bound other than ctx).
	WaitTimeout time.Duration
}

// ReplaceOptions configure [Engine.Replace].
type ReplaceOptions struct {
	// NoWait returns as soon as the new container is started.
	NoWait bool
	// WaitTimeout bounds the wait (0: no bound other than ctx).
	WaitTimeout time.Duration
	// StopTimeout bounds the graceful stop of the old container (nil: service default).
	StopTimeout *time.Duration
	// RenewAnonVolumes gives the new container fresh anonymous volumes.
	RenewAnonVolumes bool
	// Interrupted is called once, from another goroutine, when ctx ends after the
	// service's containers began to change (that change is finished first, the wait for
	// readiness skipped): the caller says so to the user.
	Interrupted func()
}

// ReplaceSettleTimeout bounds the container change of a Replace whose context ended
// (the old container's graceful stop included).
const ReplaceSettleTimeout = 2 * time.Minute

// DownOptions configure [Engine.Down].
type DownOptions struct {
	// Volumes also removes the project's named volumes.
	Volumes bool
	// RemoveOrphans also removes one-off containers of the project.
	RemoveOrphans bool
	// Timeout bounds the graceful stop (nil: service default).
	Timeout *time.Duration
}

// PsOptions configure [Engine.Ps].
type PsOptions struct {
	// All includes stopped containers.
	All bool
	// Services restricts the listing (nil: all).
	Services []string
	// Quick lists without inspecting each container: health and exit code come from the
	// daemon's status text ("Up 2 minutes (healthy)", "Exited (1) …"). An inspect waits
	// for the container's lock, which a running health probe holds, so Quick is the cheap
	// listing for callers that run often or only need states and ports.
	Quick bool
}

// StopOptions configure [Engine.Stop] and [Engine.Restart].
type StopOptions struct {
	// Timeout bounds the graceful stop (nil: service default).
	Timeout *time.Duration
}

// LogOptions configure [Engine.Logs].
type LogOptions struct {
	// Follow keeps streaming until ctx is cancelled.
	Follow bool
	// Since: RFC 3339 time, Unix timestamp or relative duration ("10m").
	Since string
	// Tail: number of lines from the end of each container's log ("" or "all": all).
	Tail string
	// Timestamps prefixes every line with its RFC 3339 timestamp.
	Timestamps bool
}

// LogSink receives log lines. Calls are serialised: implementations need no locking.
type LogSink interface {
	// Log gets one line (without its newline) of a container of a service.
	Log(service, container, line string, stderr bool)
}

// LogSinkFunc adapts a function to [LogSink].
type LogSinkFunc func(service, container, line string, stderr bool)

// Log implements LogSink.
func (f LogSinkFunc) Log(service, container, line string, stderr bool) {
	f(service, container, line, stderr)
}

// ExecOptions configure [Engine.Exec].
type ExecOptions struct {
	// Cmd is the command and its arguments (required).
	Cmd []string
	// TTY allocates a pseudo-terminal (In must then be a terminal when Interactive).
	TTY bool
	// Interactive attaches the input stream given to New.
	Interactive bool
	// User and WorkDir override the container's.
	User    string
	WorkDir string
	// Env adds KEY=VALUE variables.
	Env []string
	// Index selects the replica (0: the first).
	Index int
}

// Container is a service container as listed by [Engine.Ps].
type Container struct {
	ID       string
	Name     string
	Project  string
	Service  string
	Image    string
	State    string // created, running, paused, restarting, removing, exited, dead
	Status   string // human readable, e.g. "Up 3 minutes (healthy)"
	Health   string // "", starting, healthy, unhealthy (only for running containers)
	ExitCode int    // for exited containers
	Created  time.Time
	// Publishers are the published ports.
	Publishers []Publisher
	Labels     map[string]string
}

// Publisher is a published container port.
type Publisher struct {
	HostIP        string // e.g. 127.0.0.1
	PublishedPort int    // host port (0 when not published)
	TargetPort    int    // container port
	Protocol      string // tcp or udp
}

// ProjectSummary describes a compose project found on the daemon.
type ProjectSummary struct {
	Name        string
	WorkingDir  string   // from com.docker.compose.project.working_dir
	ConfigFiles []string // from com.docker.compose.project.config_files
	Services    []string // services with at least one container, sorted
	Containers  int
	Running     int
	// Status is compose-like: "running(2), exited(1)"; "" without containers.
	Status string
	// LastCreated is the creation time of the newest container (zero without containers).
	LastCreated time.Time
	Volumes     []string // project volumes (named volumes survive down without Volumes)
	Networks    []string
}

var (
	// ErrDaemonUnreachable is matched (errors.Is) by every error caused by a Docker
	// daemon that cannot be reached.
	ErrDaemonUnreachable = errors.New("cannot reach the Docker daemon")
	// ErrNotReady is matched by Up/Replace wait failures (timeout, unhealthy service,
	// service exited with an error).
	ErrNotReady = errors.New("services not ready")
)
