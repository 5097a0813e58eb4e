// Package update is the seed's `update` ("update lists the image list; choose one, and the
// update is fully automatic"): it switches one service of a running stack to another
// image, waits for it to be healthy, rolls back to the previous image when it is not, and
// pins the choice (up, watch and restart keep a pinned image until Latest).
//
// The seams:
//   - [Lister] lists the candidate images of a service. [LocalImages] lists the images
//     clocal built from this workspace; [RegistryTags] the tags of the repository of the
//     service's production image, through the registry's HTTP API v2.
//   - Updater.Prepare runs before the switch, under the project lock, to make the chosen
//     image available locally ([Pull]: the registry's current image of a tag).
//
// The planners are pure and unit-tested: [Choose] (which candidate a user's --to names)
// and [Images] (the image of every service in the project to load). [Updater.Switch] does
// the change through the stack layer: under the project lock (as up, down and the dev loop
// take it), from the containers as they are under that lock.
package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
)

// Candidate is one image a service can be switched to.
type Candidate struct {
	// Ref is the full image reference (clocal/repo-manager:3f2a9c1d0b7e).
	Ref string `json:"ref"`
	// Tag is the part users type (--to 3f2a).
	Tag     string    `json:"tag"`
	ID      string    `json:"id,omitempty"`
	BuiltAt time.Time `json:"built_at"`
	// Rev is the source revision the image was built from ("" when unknown).
	Rev string `json:"source_rev,omitempty"`
	// Running is true for the image the service's container runs now.
	Running bool `json:"running"`
	// Origin says where the candidate comes from: OriginLocal (built by clocal here) or
	// OriginRegistry (a tag of the production image's repository).
	Origin string `json:"origin"`
	// Repository is where a registry tag lives (registry/repo); Digest its manifest digest.
	Repository string `json:"repository,omitempty"`
	Digest     string `json:"digest,omitempty"`
	// Pinned marks the image the service is pinned to; Latest what up runs without a pin
	// (the build of the current sources, or the production image).
	Pinned bool `json:"pinned"`
	Latest bool `json:"latest"`
	// Err says why the registry could not describe this tag (it is listed all the same).
	Err string `json:"error,omitempty"`
}

// Origins of candidates.
const (
	OriginLocal    = "local"
	OriginRegistry = "registry"
)

// Query is what a Lister is asked.
type Query struct {
	Service string
	// Running is the image (reference or ID) the service's container runs ("" when none).
	Running string
}

// Lister lists candidate images of a service, in any order.
type Lister interface {
	Candidates(ctx context.Context, q Query) ([]Candidate, error)
}

// ImageLister is what LocalImages needs of the Engine API.
type ImageLister interface {
	ImageList(ctx context.Context, o image.ListOptions) ([]image.Summary, error)
}

// LocalImages lists the images clocal built for a service from the workspace at Root (the
// images another checkout built are not this stack's to switch to, unless one runs).
type LocalImages struct {
	Docker ImageLister
	Root   string
}

// Candidates implements Lister.
func (l LocalImages) Candidates(ctx context.Context, q Query) ([]Candidate, error) {
	// Every image clocal built, then those tagged for this service: the image split
	// replicas share is built (and labelled) for one of them and tagged for the others.
	imgs, err := l.Docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Service))})
	if err != nil {
		return nil, fmt.Errorf("list images of %s: %w", q.Service, err)
	}
	prefix := build.ImageRef(q.Service, "")
	var out []Candidate
	for _, im := range imgs {
		running := q.Running != "" && (im.ID == q.Running || contains(im.RepoTags, q.Running))
		if w, ok := im.Labels[labels.Workspace]; ok && w != l.Root && !running {
			continue
		}
		for _, ref := range im.RepoTags {
			if !strings.HasPrefix(ref, prefix) {
				continue
			}
			c := Candidate{Ref: ref, Tag: strings.TrimPrefix(ref, prefix), ID: im.ID, Rev: im.Labels[labels.SourceRev], Origin: OriginLocal}
			if t, err := time.Parse(time.RFC3339, im.Labels[labels.BuiltAt]); err == nil {
				c.BuiltAt = t
			} else {
				c.BuiltAt = time.Unix(im.Created, 0).UTC()
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// Sort orders candidates newest first; equal build times (second resolution) are ordered
// by origin then tag, so the numbering of a list is the same between two runs. Running is
// set on the candidates running names (reference, as docker compares them, or ID).
func Sort(cands []Candidate, running string) {
	for i := range cands {
		cands[i].Running = running != "" && (SameRef(cands[i].Ref, running) || cands[i].ID == running)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if !cands[i].BuiltAt.Equal(cands[j].BuiltAt) {
			return cands[i].BuiltAt.After(cands[j].BuiltAt)
		}
		if cands[i].Origin != cands[j].Origin {
			return cands[i].Origin < cands[j].Origin
		}
		return cands[i].Tag < cands[j].Tag
	})
}

// SameRef compares image references as docker does (redis:7 is docker.io/library/redis:7).
func SameRef(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	na, err1 := registry.Normalize(a)
	nb, err2 := registry.Normalize(b)
	return err1 == nil && err2 == nil && na == nb
}

// ErrNoMatch is returned by Choose when no candidate matches.
var ErrNoMatch = errors.New("no such image")

// Choose is the planner of "which image to switch to": the candidate whose tag or
// reference is want, else the only one whose tag starts with want. An ambiguous prefix is
// an error naming the matches.
func Choose(cands []Candidate, want string) (Candidate, error) {
	if want == "" {
		return Candidate{}, fmt.Errorf("%w: empty image tag", ErrNoMatch)
	}
	for _, c := range cands {
		if c.Tag == want || SameRef(c.Ref, want) {
			return c, nil
		}
	}
	var matches []Candidate
	for _, c := range cands {
		// Prefixes are for the long hash tags of local builds; registry tags are typed
		// whole (1 is not 1.4.2).
		if c.Origin != OriginRegistry && strings.HasPrefix(c.Tag, want) {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 0:
		return Candidate{}, fmt.Errorf("%w %q", ErrNoMatch, want)
	case 1:
		return matches[0], nil
	}
	var tags []string
	for _, m := range matches {
		tags = append(tags, m.Tag)
	}
	return Candidate{}, fmt.Errorf("%w: %q is ambiguous (%s)", ErrNoMatch, want, strings.Join(tags, ", "))
}

// Images is the planner of "what the project runs after the switch": service runs ref,
// every other selected service keeps the clocal-built image it runs now (so nothing else
// is rebuilt or recreated) or its pin; services without either are left to the stack's
// defaults (their production image).
func Images(current map[string]string, pins map[string]string, selected []string, service, ref string) map[string]string {
	out := map[string]string{}
	for _, s := range selected {
		if img := current[s]; strings.HasPrefix(img, build.ImageRepoPrefix) {
			out[s] = img
		}
		if pin := pins[s]; pin != "" {
			out[s] = pin
		}
	}
	out[service] = ref
	return out
}

// Updater switches services of one stack.
type Updater struct {
	Stack *stack.Stack
	// Listers list the candidates (nil: LocalImages of the stack's workspace).
	Listers []Lister
	// Prepare makes c available locally before the switch (nil: nothing to do; local
	// images are). It runs under the project lock.
	Prepare func(ctx context.Context, c Candidate) error
	// Timeout bounds the wait for the new container's health (0: 2 minutes).
	Timeout time.Duration
	// Out receives progress lines ("repo-manager: A -> B").
	Out io.Writer
}

// Status is a service's running image and its candidates, newest first.
type Status struct {
	Service    string      `json:"service"`
	Project    string      `json:"project"`
	Production string      `json:"production_image,omitempty"`
	Running    string      `json:"running,omitempty"`
	Pinned     string      `json:"pinned,omitempty"`
	Candidates []Candidate `json:"images"`
	// Warnings say which candidates could not be listed (an unreachable registry).
	Warnings []string `json:"warnings,omitempty"`
}

// ErrNotRunning is returned by Switch when the service has no container.
var ErrNotRunning = errors.New("not running")

// Status lists the candidates of service. A lister that fails (an unreachable registry)
// leaves its candidates out with a warning; Status fails only when every lister does.
func (u *Updater) Status(ctx context.Context, service string) (Status, error) {
	current, _, err := u.current(ctx, service)
	if err != nil {
		return Status{}, err
	}
	pins, err := u.Stack.Pins()
	if err != nil {
		return Status{}, err
	}
	st := Status{Service: service, Project: u.Stack.Name, Production: Production(u.Stack, service),
		Running: current[service], Pinned: pins[service].Image, Candidates: []Candidate{}}
	listers := u.listers()
	var firstErr error
	failed := 0
	for _, l := range listers {
		c, err := l.Candidates(ctx, Query{Service: service, Running: st.Running})
		if err != nil {
			if ctx.Err() != nil {
				return Status{}, ctx.Err()
			}
			failed++
			if firstErr == nil {
				firstErr = err
			}
			st.Warnings = append(st.Warnings, oneLine(err))
			continue
		}
		st.Candidates = append(st.Candidates, c...)
	}
	if failed == len(listers) && firstErr != nil {
		return Status{}, firstErr
	}
	Sort(st.Candidates, st.Running)
	latest := u.latest(ctx, service, false)
	for i := range st.Candidates {
		c := &st.Candidates[i]
		c.Pinned = SameRef(c.Ref, st.Pinned)
		c.Latest = latest != "" && SameRef(c.Ref, latest)
	}
	return st, nil
}

func (u *Updater) listers() []Lister {
	if len(u.Listers) > 0 {
		return u.Listers
	}
	return []Lister{LocalImages{Docker: u.Stack.Docker, Root: u.Stack.WS.Root}}
}

// Production returns the production image of service as its (first) job names it.
func Production(st *stack.Stack, service string) string {
	return stack.ProductionImage(st.WS.Services[service])
}

// latest is what up runs for service without a pin: the build of the current sources (its
// content hash; with ensure, built when missing) or the production image (with ensure,
// pulled under the stack's policy when missing). "" when it cannot be told.
func (u *Updater) latest(ctx context.Context, service string, ensure bool) string {
	img, _ := u.latestImage(ctx, service, ensure)
	return img
}

func (u *Updater) latestImage(ctx context.Context, service string, ensure bool) (string, error) {
	st := u.Stack
	svc := st.WS.Services[service]
	if svc == nil {
		return "", fmt.Errorf("unknown service %s", service)
	}
	if _, ok := stack.BuildSpec(st.WS, svc); ok {
		if !ensure {
			return st.BuildImages([]string{service})[service], nil
		}
		res, err := st.Build(ctx, []string{service}, false)
		if err != nil {
			return "", err
		}
		return res[service].Image, nil
	}
	img := Production(st, service)
	if ensure && img != "" && st.Puller != nil {
		if err := st.Puller.Ensure(ctx, []registry.Want{{Image: img, For: []string{service}}}, st.Pull); err != nil {
			return "", err
		}
	}
	return img, nil
}

// current returns the image each service's container runs and the owner labels of
// service's container.
func (u *Updater) current(ctx context.Context, service string) (map[string]string, map[string]string, error) {
	ctrs, err := u.Stack.Engine.Ps(ctx, u.Stack.Name, engine.PsOptions{All: true})
	if err != nil {
		return nil, nil, err
	}
	images := map[string]string{}
	owner := map[string]string{}
	for _, c := range ctrs {
		images[c.Service] = c.Image
		if c.Service == service {
			for _, k := range []string{labels.OwnerPID, labels.OwnerHost, labels.OwnerStart} {
				if v, ok := c.Labels[k]; ok {
					owner[k] = v
				}
			}
		}
	}
	return images, owner, nil
}

// Result is what Switch did.
type Result struct {
	Service string `json:"service"`
	Project string `json:"project"`
	From    string `json:"from"`
	To      string `json:"to"`
	// Changed is false when the service already ran To.
	Changed bool `json:"changed"`
	// RolledBack is true when To did not become healthy and From runs again.
	RolledBack bool `json:"rolled_back,omitempty"`
	// Pinned is true when To is now the service's pin.
	Pinned bool   `json:"pinned,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Switch replaces service's container with one running c, under the project lock; when
// the new container does not become healthy within the timeout, the previous image is
// put back and the error says so (Result.RolledBack). A switch that worked (or found c
// running already) pins c: up, watch and restart keep it until Latest.
func (u *Updater) Switch(ctx context.Context, service string, c Candidate) (Result, error) {
	unlock, err := u.Stack.LockProject(ctx)
	if err != nil {
		return Result{Service: service, Project: u.Stack.Name, To: c.Ref}, err
	}
	defer unlock()
	res, err := u.switchLocked(ctx, service, c, true)
	if err != nil {
		return res, err
	}
	if err := u.Stack.SetPin(service, c.Ref); err != nil {
		return res, err
	}
	res.Pinned = true
	return res, nil
}

// Latest unpins service and runs what up runs without a pin: the build of the current
// sources (built when needed) or the production image (pulled when missing), under the
// project lock. When that is not healthy the pinned image runs again and stays pinned.
func (u *Updater) Latest(ctx context.Context, service string) (Result, error) {
	st := u.Stack
	unlock, err := st.LockProject(ctx)
	if err != nil {
		return Result{Service: service, Project: st.Name}, err
	}
	defer unlock()
	pins, err := st.Pins()
	if err != nil {
		return Result{Service: service, Project: st.Name}, err
	}
	pin := pins[service].Image
	current, _, err := u.current(ctx, service)
	if err != nil {
		return Result{Service: service, Project: st.Name}, err
	}
	if current[service] == "" {
		// Not running: nothing to replace; the next up runs the latest.
		return Result{Service: service, Project: st.Name}, st.SetPin(service, "")
	}
	img, err := u.latestImage(ctx, service, true)
	if err != nil {
		return Result{Service: service, Project: st.Name}, err
	}
	// Unpinned before the switch: the project loaded for it must not name the pin.
	if err := st.SetPin(service, ""); err != nil {
		return Result{Service: service, Project: st.Name, To: img}, err
	}
	origin := OriginLocal
	if !strings.HasPrefix(img, build.ImageRepoPrefix) {
		origin = OriginRegistry
	}
	res, err := u.switchLocked(ctx, service, Candidate{Ref: img, Origin: origin}, false)
	if err != nil && pin != "" && (res.RolledBack || !res.Changed) {
		_ = st.SetPin(service, pin)
	}
	return res, err
}

// switchLocked is Switch with the project lock held (prepare only when asked: Latest made
// its image present already).
func (u *Updater) switchLocked(ctx context.Context, service string, c Candidate, prepare bool) (Result, error) {
	st := u.Stack
	res := Result{Service: service, Project: st.Name, To: c.Ref}
	current, owner, err := u.current(ctx, service)
	if err != nil {
		return res, err
	}
	res.From = current[service]
	if res.From == "" {
		return res, fmt.Errorf("%s %w in %s: start it with clocal up %s", service, ErrNotRunning, st.Name, service)
	}
	if SameRef(res.From, c.Ref) || (c.ID != "" && res.From == c.ID) {
		return res, nil
	}
	if prepare && u.Prepare != nil {
		if err := u.Prepare(ctx, c); err != nil {
			return res, fmt.Errorf("prepare %s: %w", c.Ref, err)
		}
	}
	_, sel, err := st.CurrentPlan()
	if err != nil {
		return res, err
	}
	pins, err := st.Pins()
	if err != nil {
		return res, err
	}
	pinned := map[string]string{}
	for s, p := range pins {
		pinned[s] = p.Image
	}
	// Publish ports the way the stack was started (an isolated stack keeps daemon-chosen
	// ports instead of suddenly claiming the fixed ones), and keep the owner labels of
	// test stacks (prune --stale relies on them).
	if state, ok := st.LoadState(); ok {
		st.Convert.EphemeralPorts, st.Convert.BindAddress = state.EphemeralPorts, state.BindAddress
	}
	if len(owner) > 0 {
		if st.Labels == nil {
			st.Labels = map[string]string{}
		}
		for k, v := range owner {
			st.Labels[k] = v
		}
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	replace := func(ctx context.Context, ref string) error {
		p, _, err := st.Project(ctx, sel, Images(current, pinned, sel.Services, service, ref))
		if err != nil {
			return err
		}
		return st.Engine.Replace(ctx, p, service, engine.ReplaceOptions{WaitTimeout: timeout})
	}
	out := u.Out
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "%s: %s -> %s\n", service, res.From, c.Ref)
	rerr := replace(ctx, c.Ref)
	if rerr == nil {
		res.Changed = true
		return res, nil
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	fmt.Fprintf(out, "%s: %s did not become healthy: %v\nrolling back to %s\n", service, c.Ref, oneLine(rerr), res.From)
	if err := replace(context.WithoutCancel(ctx), res.From); err != nil {
		res.Error = err.Error()
		return res, fmt.Errorf("roll back %s to %s failed: %w", service, res.From, err)
	}
	res.Changed, res.RolledBack, res.Error = true, true, rerr.Error()
	return res, fmt.Errorf("update of %s to %s failed and was rolled back to %s: %w", service, c.Ref, res.From, rerr)
}

func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
