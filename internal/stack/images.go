package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// newPuller is the stack's puller: through the daemon, with the user's Docker credentials,
// progress on out (as lines until the caller says it is a terminal).
func newPuller(s *Stack, auth *registry.Auth) *registry.Puller {
	return &registry.Puller{
		Docker: s.Docker,
		Auth:   auth,
		// A registry that does not answer within 5 s is unreachable: up goes on with the local
		// copy of a base image rather than wait.
		Remote: &registry.Remote{Auth: auth, Insecure: registry.InsecureFromDaemon(s.Docker), Timeout: 5 * time.Second},
		Out:    s.Out,
	}
}

// pullBases is the Builder's PullBases: a base image missing at build time (the dev loop
// after a Dockerfile edit) is pulled under the stack's policy, its progress as lines among
// the build output.
func (s *Stack) pullBases(ctx context.Context, service string, refs []string) error {
	// On a remote host, what this machine's daemon has is copied there first.
	refs, err := s.copyMissing(ctx, refs)
	if err != nil || len(refs) == 0 {
		return err
	}
	wants := make([]registry.Want, 0, len(refs))
	for _, r := range refs {
		wants = append(wants, registry.Want{Image: r, For: []string{"base of " + service}, Base: true})
	}
	var p ImagePuller = s.Puller
	if rp, ok := p.(*registry.Puller); ok {
		p = rp.Lines()
	}
	if p == nil {
		return fmt.Errorf("no puller for base images %s", strings.Join(refs, ", "))
	}
	return p.Ensure(ctx, wants, s.Pull)
}

// ProductionImage is the image production runs for svc (its first job's).
func ProductionImage(svc *workspace.Service) string {
	if svc == nil {
		return ""
	}
	if svc.Image != "" {
		return svc.Image
	}
	if len(svc.Jobs) > 0 {
		return svc.Jobs[0].Image
	}
	return ""
}

// Wants returns the images the selection runs or builds on that clocal does not build: the
// production image of every service without a build, the image of every pinned service,
// and the base images (FROM, COPY --from) of the services that are built.
func (s *Stack) Wants(ctx context.Context, sel *workspace.Selection, pins map[string]Pin) ([]registry.Want, error) {
	var (
		wants   []registry.Want
		unbuilt []string
	)
	for _, name := range sel.Services {
		if _, ok := pins[name]; ok {
			continue
		}
		svc := s.WS.Services[name]
		if svc == nil {
			continue
		}
		spec, ok := BuildSpec(s.WS, svc)
		if !ok {
			unbuilt = append(unbuilt, name)
			continue
		}
		// A Dockerfile clocal cannot read for images is reported by the build itself.
		refs, _ := build.BaseImages(spec)
		for _, ref := range refs {
			wants = append(wants, registry.Want{Image: ref, For: []string{"base of " + name}, Base: true})
		}
	}
	for _, name := range unbuilt {
		// The production image, which the project names for a service clocal does not build.
		if img := ProductionImage(s.WS.Services[name]); img != "" {
			wants = append(wants, registry.Want{Image: img, For: []string{name}})
		}
	}
	for _, name := range sel.Services {
		if pin, ok := pins[name]; ok {
			wants = append(wants, registry.Want{Image: pin.Image, For: []string{name}})
		}
	}
	return wants, nil
}

// EnsureImages makes every image of Wants present under the stack's pull policy, before
// anything is built or any container changes: a failure (unreachable registry, unknown
// tag, --pull never with a missing image, Ctrl-C) leaves the running stack as it was.
// Images clocal builds itself (clocal/...) are never pulled.
func (s *Stack) EnsureImages(ctx context.Context, sel *workspace.Selection, pins map[string]Pin) error {
	if s.Puller == nil {
		return nil
	}
	wants, err := s.Wants(ctx, sel, pins)
	if err != nil {
		return err
	}
	pull := wants[:0]
	for _, w := range wants {
		if !strings.HasPrefix(w.Image, build.ImageRepoPrefix) {
			pull = append(pull, w)
			continue
		}
		// A pinned local build: it exists or it is gone (clocal gc); no registry has it.
		if s.Docker == nil {
			continue
		}
		if _, err := s.Docker.ImageInspect(ctx, w.Image); err != nil {
			if cerrdefs.IsNotFound(err) {
				svc := strings.Join(w.For, ", ")
				return fmt.Errorf("%s is pinned to %s, which no longer exists (removed by clocal gc?): clocal update %s --latest, or pick another image with clocal update %s", svc, w.Image, svc, svc)
			}
			return err
		}
	}
	// On a remote host, what this machine's daemon has is copied there first.
	if pull, err = s.copyWants(ctx, pull); err != nil {
		return err
	}
	return s.Puller.Ensure(ctx, pull, s.Pull)
}

// resolveImages decides the image of every selected service: its pin, its build (run only
// for services that are built and not pinned), or its production image (no entry). Every
// image from a registry is made present first.
func (s *Stack) resolveImages(ctx context.Context, sel *workspace.Selection, force bool) (map[string]string, map[string]build.Result, map[string]Pin, error) {
	pins, err := s.pinned(sel)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.EnsureImages(ctx, sel, pins); err != nil {
		return nil, nil, nil, err
	}
	s.reportPins(pins)
	var toBuild []string
	for _, name := range sel.Services {
		if _, ok := pins[name]; !ok {
			toBuild = append(toBuild, name)
		}
	}
	builds, err := s.Build(ctx, toBuild, force)
	if err != nil {
		return nil, nil, nil, err
	}
	images := map[string]string{}
	for n, b := range builds {
		images[n] = b.Image
	}
	for n, p := range pins {
		images[n] = p.Image
	}
	return images, builds, pins, nil
}
