package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/clocal-dev/clocal/internal/redact"
)

// PushError is a push that failed: one line naming the image, the registry and what to do.
type PushError struct {
	Image    string
	Registry string
	Reason   Reason
	Detail   string
	Err      error
}

func (e *PushError) Error() string {
	why := e.Detail
	switch e.Reason {
	case ReasonUnreachable:
		why = "the registry is unreachable (" + e.Detail + "): connect to its network (VPN?)"
	case ReasonUnauthorized, ReasonRepoNotFound:
		why = "access denied: log in with docker login " + e.Registry + " with an account that may push to " + Repository(e.Image)
	case ReasonTLS:
		why = e.Detail + ": check the daemon's insecure-registries or the registry's certificate"
	}
	return fmt.Sprintf("cannot push %s to registry %s: %s", e.Image, e.Registry, why)
}

func (e *PushError) Unwrap() error { return e.Err }

// Push pushes ref, an image present on the daemon, to its registry through the daemon with
// the user's Docker credentials (as `docker push` does), and returns the digest the
// registry gave it.
func Push(ctx context.Context, docker client.APIClient, auth *Auth, ref string) (string, error) {
	full, err := Normalize(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	fail := func(err error) (string, error) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		reason, detail := classify(err)
		return "", &PushError{Image: ref, Registry: Host(ref), Reason: reason, Detail: redact.Credentials(detail), Err: err}
	}
	rc, err := docker.ImagePush(ctx, full, image.PushOptions{RegistryAuth: auth.Encoded(full)})
	if err != nil {
		return fail(err)
	}
	defer rc.Close()
	var digest string
	err = ReadMessages(rc, func(m jsonmessage.JSONMessage) {
		if m.Aux != nil {
			var aux struct {
				Digest string `json:"Digest"`
			}
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
		}
	})
	if err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if digest == "" {
		return fail(errors.New("the daemon ended the push without a digest"))
	}
	return digest, nil
}
