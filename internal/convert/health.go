package convert

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// Healthchecks: fast while a service starts, nearly free once it is ready.
//
// A Docker healthcheck probe is a `runc exec` (about 0.15 s of CPU on Engine 20.10), so
// the service files' 1 s probes cost a whole core for every seven idle services. What a
// developer needs fast is readiness: `up` starting a dependent once its dependency
// answers, a rebuilt service counting as ready about a second after it answers. So the
// container's healthcheck is split:
//
//   - Docker probes every Idle interval (default DefaultIdleInterval, never more often
//     than the service file says): the steady-state health `docker ps` shows.
//   - While clocal waits for a service (up, a dev loop replace, start, restart), it probes
//     readiness itself with the same test at the service file's interval (package
//     engine), and stops once the service is ready.
//   - Where the engine supports it (Docker 25+, API 1.44+: HealthPolicy.StartInterval),
//     start_interval also makes Docker's own first probes fast.
//
// The service file's interval, retries and start period travel in the labels.Readiness
// label (see Readiness); Docker's start_period covers the whole start budget (start period
// plus interval × retries), so Docker never calls a service unhealthy that clocal still
// gives time to start.

// DefaultIdleInterval is how often Docker probes a running service once it is ready: 60
// services probed every 2 minutes cost about 0.075 s of CPU per second.
const DefaultIdleInterval = 2 * time.Minute

// DefaultReadyInterval is clocal's readiness probe interval when the service file gives none.
const DefaultReadyInterval = time.Second

// HealthPolicy says how service-file healthchecks become container healthchecks.
type HealthPolicy struct {
	// Idle is the interval of Docker's own probes (0: DefaultIdleInterval). A service
	// file asking for a longer interval keeps it.
	Idle time.Duration
	// StartInterval: the engine supports healthcheck.start_interval (API 1.44+), so Docker's
	// probes are fast until the service is first healthy.
	StartInterval bool
	// AsDeclared emits the service files' healthchecks unchanged (Docker probes at their
	// interval forever); no readiness label.
	AsDeclared bool
}

// Readiness is the service file's healthcheck timing, which clocal's own readiness probes
// follow.
type Readiness struct {
	Interval    time.Duration // between probes
	Timeout     time.Duration // of one probe (0: Docker's default, 30 s)
	Retries     int           // consecutive failures, after StartPeriod, that fail the service
	StartPeriod time.Duration // failures before it do not count
}

// Budget is how long a service may take to become ready: its start period plus retries
// intervals.
func (r Readiness) Budget() time.Duration {
	return r.StartPeriod + time.Duration(r.Retries)*r.Interval
}

// String is the label value: "interval=1s timeout=10s retries=60 start_period=0s".
func (r Readiness) String() string {
	return fmt.Sprintf("interval=%s timeout=%s retries=%d start_period=%s", r.Interval, r.Timeout, r.Retries, r.StartPeriod)
}

// ParseReadiness reads a labels.Readiness value.
func ParseReadiness(s string) (Readiness, error) {
	var r Readiness
	seen := 0
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("readiness %q: %q is not key=value", s, f)
		}
		var err error
		switch k {
		case "interval":
			r.Interval, err = time.ParseDuration(v)
		case "timeout":
			r.Timeout, err = time.ParseDuration(v)
		case "start_period":
			r.StartPeriod, err = time.ParseDuration(v)
		case "retries":
			r.Retries, err = strconv.Atoi(v)
		default:
			continue // a later clocal may add keys
		}
		if err != nil {
			return r, fmt.Errorf("readiness %q: %s: %w", s, k, err)
		}
		seen++
	}
	if seen == 0 || r.Interval <= 0 {
		return r, fmt.Errorf("readiness %q: no interval", s)
	}
	return r, nil
}

// dockerDefaultRetries is Docker's default healthcheck retries.
const dockerDefaultRetries = 3

// render returns the container healthcheck of a service file's healthcheck and the
// readiness label value ("" when none).
func (hp HealthPolicy) render(h *workspace.Healthcheck) (*composeHealthcheck, string) {
	declared := &composeHealthcheck{Test: HealthcheckTest(h.Test), Interval: h.Interval,
		Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartPeriod}
	if hp.AsDeclared || len(declared.Test) == 0 || declared.Test[0] == "NONE" {
		return declared, ""
	}
	r := Readiness{Interval: DefaultReadyInterval, Retries: h.Retries}
	if d, err := time.ParseDuration(h.Interval); err == nil && d > 0 {
		r.Interval = d
	}
	if d, err := time.ParseDuration(h.Timeout); err == nil && d > 0 {
		r.Timeout = d
	}
	if d, err := time.ParseDuration(h.StartPeriod); err == nil && d > 0 {
		r.StartPeriod = d
	}
	if r.Retries <= 0 {
		r.Retries = dockerDefaultRetries
	}
	idle := hp.Idle
	if idle <= 0 {
		idle = DefaultIdleInterval
	}
	out := &composeHealthcheck{
		Test:        declared.Test,
		Interval:    max(idle, r.Interval).String(),
		Timeout:     declared.Timeout,
		Retries:     min(r.Retries, dockerDefaultRetries),
		StartPeriod: r.Budget().String(),
	}
	if hp.StartInterval {
		out.StartInterval = r.Interval.String()
	}
	return out, r.String()
}
