package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Policy says when images clocal does not build are pulled.
type Policy string

const (
	// PullMissing pulls images that are not present locally (default). Base images of
	// builds that came from a registry are also checked against it (one manifest
	// request), so a moved tag is pulled and rebuilds; unreachable, the local copy is used.
	PullMissing Policy = "missing"
	// PullAlways pulls every image from its registry (the daemon fetches only what
	// changed). Images that exist only locally (never pulled, no registry digest) are
	// kept as they are.
	PullAlways Policy = "always"
	// PullNever never contacts a registry: a missing image is an error.
	PullNever Policy = "never"
)

// Policies lists the valid policies, for flag help and completion.
var Policies = []string{string(PullMissing), string(PullAlways), string(PullNever)}

// ParsePolicy reads a --pull value ("" is missing).
func ParsePolicy(s string) (Policy, error) {
	switch Policy(strings.ToLower(strings.TrimSpace(s))) {
	case "", PullMissing:
		return PullMissing, nil
	case PullAlways:
		return PullAlways, nil
	case PullNever:
		return PullNever, nil
	}
	return "", fmt.Errorf("invalid pull policy %q: want missing, always or never", s)
}

// Want is an image a stack needs.
type Want struct {
	Image string
	// For names who needs it, for messages: a service, or "base of svc".
	For []string
	// Base marks a build's base image (FROM): with PullMissing it is checked against its
	// registry when it came from one, so that a moved tag is pulled.
	Base bool
}

// Puller makes images present on the daemon, pulling through it (the daemon's registry
// settings, mirrors and insecure registries apply) with the user's credentials.
type Puller struct {
	Docker client.APIClient
	Auth   *Auth
	// Remote checks base images' tags against their registry (PullMissing); nil skips that.
	Remote *Remote
	// Digest, when set, replaces Remote for that check: the digest the registry serves for
	// a tag now, as seen from where images are pulled (DaemonDigest: a Docker host on
	// another machine may reach registries this one does not, and the other way round).
	Digest func(ctx context.Context, ref string) (string, error)
	// Out receives progress: per image, redrawn in place when TTY, else as lines.
	Out io.Writer
	TTY bool
	// Jobs is how many images are pulled at once (default 3).
	Jobs int

	outMu sync.Mutex
}

// Lines returns a puller like p that shows progress as plain lines (for pulls among other
// output, such as a build's).
func (p *Puller) Lines() *Puller {
	return &Puller{Docker: p.Docker, Auth: p.Auth, Remote: p.Remote, Digest: p.Digest, Out: p.Out, Jobs: p.Jobs}
}

// local is what the daemon has for a reference.
type local struct {
	present     bool
	id          string
	repoDigests []string
}

func (p *Puller) inspect(ctx context.Context, ref string) (local, error) {
	img, err := p.Docker.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return local{}, nil
		}
		return local{}, err
	}
	return local{present: true, id: img.ID, repoDigests: img.RepoDigests}, nil
}

// inspectAll looks every wanted image up with one image listing of the daemon (its tags
// and digests), whatever the number of images: a 1,000-service model asks once.
func (p *Puller) inspectAll(ctx context.Context, wants []Want) ([]local, error) {
	imgs, err := p.Docker.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	byRef := map[string]local{}
	for _, im := range imgs {
		loc := local{present: true, id: im.ID, repoDigests: im.RepoDigests}
		for _, r := range append(append([]string(nil), im.RepoTags...), im.RepoDigests...) {
			if n, err := Normalize(r); err == nil {
				byRef[n] = loc
			}
		}
	}
	locs := make([]local, len(wants))
	for i, w := range wants {
		n, err := Normalize(w.Image)
		if err != nil {
			return nil, fmt.Errorf("image %q: %w", w.Image, err)
		}
		locs[i] = byRef[n]
	}
	return locs, nil
}

// merge folds wants naming the same image into one, keeping the first's order.
func merge(wants []Want) []Want {
	idx := map[string]int{}
	var out []Want
	for _, w := range wants {
		key := w.Image
		if n, err := Normalize(w.Image); err == nil {
			key = n
		}
		if i, ok := idx[key]; ok {
			out[i].For = append(out[i].For, w.For...)
			out[i].Base = out[i].Base || w.Base
			continue
		}
		idx[key] = len(out)
		w.For = append([]string(nil), w.For...)
		out = append(out, w)
	}
	for i := range out {
		sort.Strings(out[i].For)
		out[i].For = slices.Compact(out[i].For)
	}
	return out
}

// Ensure makes every wanted image present according to policy, before anything else
// happens: with PullNever a missing image is a *MissingError; a pull that fails is a
// *PullError (the first one, with how many more failed); a cancelled ctx returns its
// error. Pulls run Jobs at a time; the first failure cancels the others. Nothing but
// images changes: a failure leaves containers as they were.
func (p *Puller) Ensure(ctx context.Context, wants []Want, policy Policy) error {
	wants = merge(wants)
	if len(wants) == 0 {
		return nil
	}
	type decision struct {
		want Want
		loc  local
	}
	var (
		toPull  []Want
		missing []Want
		check   []decision
	)
	locs, err := p.inspectAll(ctx, wants)
	if err != nil {
		return err
	}
	for i, w := range wants {
		loc := locs[i]
		switch {
		case !loc.present && policy == PullNever:
			missing = append(missing, w)
		case !loc.present:
			toPull = append(toPull, w)
		case policy == PullNever || len(loc.repoDigests) == 0:
			// present; an image that exists only locally has no registry to ask
		case policy == PullAlways:
			toPull = append(toPull, w)
		case w.Base && (p.Remote != nil || p.Digest != nil):
			check = append(check, decision{w, loc})
		}
	}
	if len(missing) > 0 {
		return &MissingError{Image: missing[0].Image, Services: missing[0].For, Registry: Host(missing[0].Image), More: len(missing) - 1}
	}
	// Base images that came from a registry: pull when their tag moved there.
	if len(check) > 0 {
		moved := make([]bool, len(check))
		var wg sync.WaitGroup
		for i, d := range check {
			wg.Add(1)
			go func() {
				defer wg.Done()
				digest, err := p.digest(ctx, d.want.Image)
				if err != nil {
					if ctx.Err() == nil {
						p.printf("%s: cannot check its registry (%s), using the local copy\n", d.want.Image, shortReason(err))
					}
					return
				}
				moved[i] = !hasDigest(d.loc.repoDigests, digest)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, d := range check {
			if moved[i] {
				toPull = append(toPull, d.want)
			}
		}
	}
	if len(toPull) == 0 {
		return nil
	}
	return p.pullAll(ctx, toPull)
}

// digest is the digest ref's registry serves now (Digest, else Remote).
func (p *Puller) digest(ctx context.Context, ref string) (string, error) {
	if p.Digest != nil {
		return p.Digest(ctx, ref)
	}
	return p.Remote.Digest(ctx, ref)
}

// DaemonDigest returns a Puller.Digest that asks docker's daemon (GET /distribution/REF/json:
// the daemon asks the registry, over its own network and registry settings, with the
// user's credentials for that registry), within timeout.
func DaemonDigest(docker client.APIClient, auth *Auth, timeout time.Duration) func(ctx context.Context, ref string) (string, error) {
	return func(ctx context.Context, ref string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		insp, err := docker.DistributionInspect(ctx, ref, auth.Encoded(ref))
		if err != nil {
			return "", err
		}
		return insp.Descriptor.Digest.String(), nil
	}
}

func shortReason(err error) string {
	var pe *PullError
	if errors.As(err, &pe) {
		if pe.Detail != "" {
			return pe.Detail
		}
		return string(pe.Reason)
	}
	return firstLine(err.Error())
}

// hasDigest reports whether a local image's RepoDigests ("repo@sha256:…") hold digest.
func hasDigest(repoDigests []string, digest string) bool {
	for _, rd := range repoDigests {
		if strings.HasSuffix(rd, "@"+digest) {
			return true
		}
	}
	return false
}

// Pull pulls one image now, whatever is present (progress as lines unless TTY).
func (p *Puller) Pull(ctx context.Context, ref string, forWhom ...string) error {
	return p.pullAll(ctx, []Want{{Image: ref, For: forWhom}})
}

func (p *Puller) pullAll(ctx context.Context, wants []Want) error {
	jobs := p.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	view := newProgressView(p.Out, p.TTY)
	for _, w := range wants {
		view.add(w.Image, w.For)
	}
	view.start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(wants))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, w := range wants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				view.finish(i, ctx.Err())
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			err := p.pullOne(ctx, i, w, view)
			view.finish(i, err)
			if err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	view.stop()
	var first *PullError
	more := 0
	for i, err := range errs {
		if err == nil || errors.Is(err, context.Canceled) {
			continue
		}
		if first == nil {
			first = newPullError(wants[i].Image, wants[i].For, err)
			continue
		}
		more++
	}
	if first != nil {
		first.More = more
		return first
	}
	for _, err := range errs {
		if err != nil {
			return err // cancelled from outside
		}
	}
	return nil
}

// pullOne pulls through the daemon, feeding the progress view, and returns the daemon's
// error (from the request or from the stream).
func (p *Puller) pullOne(ctx context.Context, i int, w Want, view *progressView) error {
	ref, err := Normalize(w.Image)
	if err != nil {
		return err
	}
	rc, err := p.Docker.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: p.Auth.Encoded(ref)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer rc.Close()
	err = ReadMessages(rc, func(m jsonmessage.JSONMessage) { view.event(i, m) })
	var daemonMsg *MessageError
	switch {
	case errors.As(err, &daemonMsg):
		return daemonMsg
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("read pull progress: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The stream can end without an error message when the daemon gave up; make sure the
	// image is there.
	loc, err := p.inspect(ctx, ref)
	if err != nil {
		return err
	}
	if !loc.present {
		return fmt.Errorf("the daemon finished pulling %s but has no such image", ref)
	}
	return nil
}

func (p *Puller) printf(format string, args ...any) {
	if p.Out != nil {
		p.outMu.Lock()
		defer p.outMu.Unlock()
		fmt.Fprintf(p.Out, format, args...)
	}
}
