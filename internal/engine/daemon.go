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
)

// PingTimeout bounds [Engine.Ping] and the ping done by [New], so that a dead or hung
// daemon is reported in under 2 seconds.
const PingTimeout = 1500 * time.Millisecond

// DaemonError is returned when the Docker daemon cannot be reached. It matches
// [ErrDaemonUnreachable] and unwraps to the underlying client error.
type DaemonError struct {
	Host string // e.g. unix:///var/run/docker.sock
	Err  error
}

// Error is one line saying what failed and how to fix it.
func (e *DaemonError) Error() string {
	if isPermission(e.Err) {
		return fmt.Sprintf("%s at %s: permission denied (add your user to the \"docker\" group with \"sudo usermod -aG docker $USER\" and log in again, or set DOCKER_HOST)",
			ErrDaemonUnreachable, e.Host)
	}
	return fmt.Sprintf("%s at %s: is it running? (start it with \"sudo systemctl start docker\", or set DOCKER_HOST)",
		ErrDaemonUnreachable, e.Host)
}

// Is makes errors.Is(err, ErrDaemonUnreachable) true.
func (e *DaemonError) Is(target error) bool { return target == ErrDaemonUnreachable }

// Unwrap returns the client error.
func (e *DaemonError) Unwrap() error { return e.Err }

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES) ||
		(err != nil && strings.Contains(err.Error(), "permission denied"))
}

// ping asks the daemon for its API version within PingTimeout and negotiates it.
func ping(ctx context.Context, c client.APIClient) error {
	ctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	p, err := c.Ping(ctx)
	if err != nil {
		return &DaemonError{Host: c.DaemonHost(), Err: err}
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
