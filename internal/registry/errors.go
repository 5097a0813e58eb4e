package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/clocal-dev/clocal/internal/redact"
)

// Reason says in a few words why a registry did not give an image.
type Reason string

const (
	ReasonUnreachable  Reason = "unreachable"
	ReasonNotFound     Reason = "not-found"      // the tag (or digest) does not exist
	ReasonRepoNotFound Reason = "repo-not-found" // the repository does not exist
	ReasonUnauthorized Reason = "unauthorized"   // credentials missing, wrong, or not allowed
	ReasonTLS          Reason = "tls"            // certificate or plain-HTTP mismatch
	ReasonOther        Reason = "other"
)

// PullError is a pull (or a registry request) that failed. Its message is one line naming
// the image, the services that need it, the registry and what to do.
type PullError struct {
	Image    string
	Services []string // who needs it (services, or "base of svc")
	Registry string
	Reason   Reason
	Detail   string // the daemon's or registry's own words, credentials redacted
	More     int    // further images that failed too
	// Listing is set when the request was the listing of the repository's tags (update
	// --list), not a pull: the message says so and does not suggest --pull never.
	Listing bool
	Err     error
}

func (e *PullError) Error() string {
	what := e.Image
	if len(e.Services) > 0 {
		what += " (" + strings.Join(e.Services, ", ") + ")"
	}
	verb := "pull"
	if e.Listing {
		verb = "list the tags of"
	}
	msg := fmt.Sprintf("cannot %s %s from registry %s: %s", verb, what, e.Registry, e.explain())
	if e.More > 0 {
		msg += fmt.Sprintf(" (and %d more image(s))", e.More)
	}
	return msg
}

func (e *PullError) Unwrap() error { return e.Err }

func (e *PullError) explain() string {
	switch e.Reason {
	case ReasonUnreachable:
		if e.Listing {
			return "the registry is unreachable (" + e.Detail + "): connect to its network (VPN?)"
		}
		return "the registry is unreachable (" + e.Detail + "): connect to its network (VPN?) or use images already present with --pull never"
	case ReasonNotFound:
		return fmt.Sprintf("tag %q does not exist there (%s)", tagOf(e.Image), e.Detail)
	case ReasonRepoNotFound:
		return fmt.Sprintf("repository %s does not exist there, or needs a login: docker login %s", Repository(e.Image), e.Registry)
	case ReasonUnauthorized:
		return "access denied: log in with docker login " + e.Registry + " (" + e.Detail + ")"
	case ReasonTLS:
		return e.Detail + ": check the daemon's insecure-registries or the registry's certificate"
	}
	return e.Detail
}

func tagOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[i+1:]
	}
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return "latest"
}

// MissingError is an image that is not present locally while the pull policy forbids
// pulling it (--pull never). One line naming the image and its registry.
type MissingError struct {
	Image    string
	Services []string
	Registry string
	More     int
}

func (e *MissingError) Error() string {
	what := e.Image
	if len(e.Services) > 0 {
		what += " (" + strings.Join(e.Services, ", ") + ")"
	}
	msg := fmt.Sprintf("image %s is not present locally and --pull never forbids pulling it from registry %s", what, e.Registry)
	if e.More > 0 {
		msg += fmt.Sprintf(" (and %d more image(s))", e.More)
	}
	return msg
}

// classify turns a daemon pull message or a registry client error into a Reason and a
// short detail.
func classify(err error) (Reason, string) {
	if err == nil {
		return ReasonOther, ""
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode:
				return ReasonNotFound, "manifest unknown"
			case transport.NameUnknownErrorCode:
				return ReasonRepoNotFound, "repository name not known to registry"
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return ReasonUnauthorized, strings.ToLower(string(d.Code))
			}
		}
		switch terr.StatusCode {
		case http.StatusNotFound:
			return ReasonNotFound, "HTTP 404"
		case http.StatusUnauthorized, http.StatusForbidden:
			return ReasonUnauthorized, fmt.Sprintf("HTTP %d", terr.StatusCode)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonUnreachable, "timed out"
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return ReasonUnreachable, "timed out"
	}
	return classifyMessage(err.Error())
}

// classifyMessage reads the daemon's pull error text (Docker 20.10 to 28).
func classifyMessage(msg string) (Reason, string) {
	low := strings.ToLower(msg)
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(low, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("connection refused"):
		return ReasonUnreachable, "connection refused"
	case has("no such host", "server misbehaving", "temporary failure in name resolution"):
		return ReasonUnreachable, "host name not found"
	case has("i/o timeout", "deadline exceeded", "tls handshake timeout", "timeout awaiting", "request canceled while waiting"):
		return ReasonUnreachable, "timed out"
	case has("network is unreachable", "no route to host", "connection reset"):
		return ReasonUnreachable, firstLine(msg)
	case has("http response to https client"):
		return ReasonTLS, "the registry speaks plain HTTP"
	case has("x509:", "certificate"):
		return ReasonTLS, "its TLS certificate is not trusted"
	case has("manifest unknown", "not found: manifest", "manifest for") && has("not found", "unknown"):
		return ReasonNotFound, "manifest unknown"
	case has("name unknown", "repository name not known"):
		return ReasonRepoNotFound, "repository name not known to registry"
	case has("pull access denied", "repository does not exist"):
		return ReasonRepoNotFound, "pull access denied"
	case has("unauthorized", "authentication required", "no basic auth credentials", "denied"):
		return ReasonUnauthorized, "authentication required"
	}
	return ReasonOther, firstLine(msg)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return redact.Credentials(s)
}

// newPullError builds the error for image from the failure err.
func newPullError(image string, services []string, err error) *PullError {
	reason, detail := classify(err)
	svcs := append([]string(nil), services...)
	sort.Strings(svcs)
	return &PullError{Image: image, Services: svcs, Registry: Host(image), Reason: reason, Detail: redact.Credentials(detail), Err: err}
}
