package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/sshmux"
)

// PingTimeout bounds [Engine.Ping] and the ping done by [New] for a daemon on this
// machine, so that a dead or hung local daemon is reported in under 2 seconds. Remote
// daemons get longer (see [Host.PingTimeout]).
const PingTimeout = 1500 * time.Millisecond

// DaemonError is returned when the Docker daemon cannot be reached. It matches
// [ErrDaemonUnreachable] and unwraps to the underlying client error.
type DaemonError struct {
	Host string // e.g. unix:///var/run/docker.sock, ssh://devbox
	Err  error
}

// Error is one line saying what failed and how to fix it.
func (e *DaemonError) Error() string {
	h := Host{URL: e.Host}
	switch {
	case h.IsSSH():
		login := h.Address()
		if d, err := sshmux.ParseURL(e.Host); err == nil {
			login = d.Login()
		}
		return fmt.Sprintf("%s at %s: %s (check that \"ssh %s docker version\" works, or set DOCKER_HOST / the docker context)",
			ErrDaemonUnreachable, e.Host, cause(e.Err), login)
	case !h.Local() && e.Host != "":
		return fmt.Sprintf("%s at %s: %s (is it running and reachable from here? or set DOCKER_HOST / the docker context)",
			ErrDaemonUnreachable, e.Host, cause(e.Err))
	case isPermission(e.Err):
		return fmt.Sprintf("%s at %s: permission denied (add your user to the \"docker\" group with \"sudo usermod -aG docker $USER\" and log in again, or set DOCKER_HOST)",
			ErrDaemonUnreachable, e.Host)
	}
	return fmt.Sprintf("%s at %s: is it running? (start it with \"sudo systemctl start docker\", or set DOCKER_HOST)",
		ErrDaemonUnreachable, e.Host)
}

// cause is the one line of err that says why a remote daemon did not answer.
func cause(err error) string {
	if err == nil {
		return "no answer"
	}
	var se *sshmux.Error
	if errors.As(err, &se) {
		if se.Msg != "" {
			return se.Msg
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the connection timeout"
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// Is makes errors.Is(err, ErrDaemonUnreachable) true.
func (e *DaemonError) Is(target error) bool { return target == ErrDaemonUnreachable }

// Unwrap returns the client error.
func (e *DaemonError) Unwrap() error { return e.Err }

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES) ||
		(err != nil && strings.Contains(err.Error(), "permission denied"))
}

// ping asks the daemon for its API version within the host's ping timeout and negotiates
// it.
func ping(ctx context.Context, c client.APIClient) error {
	h := hostOf(c)
	ctx, cancel := context.WithTimeout(ctx, h.PingTimeout())
	defer cancel()
	p, err := c.Ping(ctx)
	if err != nil {
		return &DaemonError{Host: h.URL, Err: err}
	}
	c.NegotiateAPIVersionPing(p)
	return nil
}

// daemonErr turns connection failures into a *DaemonError; other errors are returned as is.
func daemonErr(c client.APIClient, err error) error {
	if err == nil {
		return nil
	}
	var de *DaemonError
	if errors.As(err, &de) {
		return err
	}
	if client.IsErrConnectionFailed(err) || isConnRefused(err) {
		host := ""
		if c != nil {
			host = c.DaemonHost()
		}
		return &DaemonError{Host: host, Err: err}
	}
	return err
}

func isConnRefused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "Cannot connect to the Docker daemon") ||
		strings.Contains(s, "connect: connection refused") ||
		strings.Contains(s, "connect: no such file or directory")
}
