package routerimage

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"

	"github.com/clocal-dev/clocal/internal/registry"
)

// Pushed is a router image pushed to a registry.
type Pushed struct {
	Result
	// Ref is the registry reference pushed; RouterImage what clocal.yaml's router_image
	// says to use it (the reference as given: a repository asks for the router's hash tag).
	Ref         string `json:"ref"`
	RouterImage string `json:"router_image"`
	Digest      string `json:"digest"`
}

// Push makes the router image present on o.Docker from a source that needs no registry (the
// daemon, clocal's executable, the Go toolchain) and pushes it as ref through the daemon
// with the user's Docker credentials: a repository gets the router's hash as its tag, the
// tag router_image asks for. The extra local tag is removed again (the image keeps Tag).
func Push(ctx context.Context, o Options, auth *registry.Auth, ref string) (Pushed, error) {
	o.RegistryImage, o.Pull = "", nil
	res, err := Ensure(ctx, o)
	if err != nil {
		return Pushed{}, err
	}
	target := RegistryRef(ref)
	named, err := reference.ParseNormalizedNamed(target)
	if err != nil {
		return Pushed{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	out := Pushed{Result: res, Ref: target, RouterImage: ref}
	if n, _ := registry.Normalize(Tag); n != reference.TagNameOnly(named).String() {
		if err := o.Docker.ImageTag(ctx, Tag, target); err != nil {
			return out, fmt.Errorf("tag %s as %s: %w", Tag, target, err)
		}
		defer func() {
			_, _ = o.Docker.ImageRemove(context.WithoutCancel(ctx), target, image.RemoveOptions{})
		}()
	}
	say(o.Out, "router image: pushing %s as %s", Tag, target)
	if out.Digest, err = registry.Push(ctx, o.Docker, auth, target); err != nil {
		return out, err
	}
	return out, nil
}
