package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// neededImage is an image a target needs and clocal does not build, with who needs it.
type neededImage struct {
	ref     string
	forWhom []string
	script  bool // run by a build.sh (`docker run`, `docker pull`): the docker CLI pulls it
}

// targetImages lists every image the selection needs that clocal does not build: the
// production images of services without a build, pinned images, the base images of builds,
// and the images the build scripts run (their toolchains).
func targetImages(ctx context.Context, e Env, sel *workspace.Selection) ([]neededImage, error) {
	st := stack.New(e.WS, e.Project, nil, nil, io.Discard)
	pins, err := st.Pins()
	if err != nil {
		return nil, err
	}
	wants, err := st.Wants(ctx, sel, pins)
	if err != nil {
		return nil, err
	}
	var out []neededImage
	idx := map[string]int{}
	add := func(ref string, who []string, script bool) {
		if i, ok := idx[ref]; ok {
			out[i].forWhom = append(out[i].forWhom, who...)
			out[i].script = out[i].script || script
			return
		}
		idx[ref] = len(out)
		out = append(out, neededImage{ref: ref, forWhom: append([]string(nil), who...), script: script})
	}
	for _, w := range wants {
		add(w.Image, w.For, false)
	}
	buildScripts(e, sel, func(name string, spec build.Spec, script string) {
		if _, pinned := pins[name]; pinned {
			return
		}
		for _, ref := range ScriptImages(script, scriptEnv(spec)) {
			add(ref, []string{"build.sh of " + name}, true)
		}
	})
	return out, nil
}

// scriptEnv is what a build script's variables expand to: the service's build env over the
// environment clocal runs in (as build.sh gets it).
func scriptEnv(spec build.Spec) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := spec.Env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
}

// checkImages says, for every image the target needs and clocal does not build, whether it
// is present, or else whether its registry has it (reachable, tag exists, credentials
// accepted), with the fix when not.
func checkImages(ctx context.Context, e Env, sel *workspace.Selection) []Finding {
	if e.Docker == nil {
		return nil
	}
	imgs, err := targetImages(ctx, e, sel)
	if err != nil {
		return []Finding{{Check: "images", Severity: Blocker, Message: err.Error(), Fix: "clocal validate"}}
	}
	remote := e.Remote
	if remote == nil {
		auth := registry.DockerAuth()
		remote = &registry.Remote{Auth: auth, Insecure: registry.InsecureFromDaemon(e.Docker)}
	}
	findings := make([]*Finding, len(imgs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, im := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			findings[i] = checkImage(ctx, e, remote, im)
		}()
	}
	wg.Wait()
	var out []Finding
	present := 0
	for _, f := range findings {
		if f == nil {
			present++
			continue
		}
		out = append(out, *f)
	}
	if len(out) == 0 {
		msg := "no image to pull: every service is built locally"
		if present > 0 {
			msg = fmt.Sprintf("all %d images the target needs and clocal does not build are present", present)
		}
		return []Finding{{Check: "images", Severity: OK, Message: msg}}
	}
	if present > 0 {
		out = append(out, Finding{Check: "images", Severity: OK, Message: fmt.Sprintf("%d other images present", present)})
	}
	return out
}

// checkImage returns nil when the image is present locally, else what its registry says.
func checkImage(ctx context.Context, e Env, remote *registry.Remote, im neededImage) *Finding {
	// On a remote Docker host, build.sh's docker runs on this machine's daemon, and what
	// that daemon has clocal up copies to the host.
	daemons := []client.APIClient{e.Docker}
	switch {
	case e.BuildDocker == nil:
	case im.script:
		daemons = []client.APIClient{e.BuildDocker}
	default:
		daemons = append(daemons, e.BuildDocker)
	}
	for _, d := range daemons {
		if _, err := d.ImageInspect(ctx, im.ref); err == nil {
			return nil
		} else if !cerrdefs.IsNotFound(err) {
			return &Finding{Check: "images", Severity: Warn, Message: fmt.Sprintf("cannot inspect %s: %v", im.ref, err)}
		}
	}
	who := strings.Join(dedupeSorted(im.forWhom), ", ")
	reg := registry.Host(im.ref)
	if strings.HasPrefix(im.ref, build.ImageRepoPrefix) {
		return &Finding{Check: "images", Severity: Blocker,
			Message: fmt.Sprintf("%s is pinned to %s, a local build that no longer exists", who, im.ref),
			Fix:     fmt.Sprintf("clocal update %s --latest, or pick another image with clocal update %s", who, who)}
	}
	puller := "clocal up pulls it"
	if im.script {
		puller = "build.sh's docker pulls it"
	}
	_, err := remote.Digest(ctx, im.ref)
	if err == nil {
		return &Finding{Check: "images", Severity: OK,
			Message: fmt.Sprintf("%s (%s) is not present; registry %s has it: %s (or: docker pull %s)", im.ref, who, reg, puller, im.ref)}
	}
	var pe *registry.PullError
	if !errors.As(err, &pe) {
		return &Finding{Check: "images", Severity: Blocker, Message: fmt.Sprintf("%s (%s): %v", im.ref, who, err), Fix: "check the image name"}
	}
	f := &Finding{Check: "images", Severity: Blocker}
	switch pe.Reason {
	case registry.ReasonUnreachable:
		f.Message = fmt.Sprintf("%s (%s) is not present and registry %s is unreachable (%s)", im.ref, who, reg, pe.Detail)
		f.Fix = fmt.Sprintf("connect to the network that reaches %s (VPN?), docker login %s if it needs a login, then docker pull %s; or load it from a file: docker load -i FILE", reg, reg, im.ref)
	case registry.ReasonUnauthorized, registry.ReasonRepoNotFound:
		f.Message = fmt.Sprintf("%s (%s) is not present and registry %s refuses it without a login (%s)", im.ref, who, reg, pe.Detail)
		f.Fix = fmt.Sprintf("docker login %s (with an account that may read %s), then docker pull %s", reg, registry.Repository(im.ref), im.ref)
	case registry.ReasonNotFound:
		f.Message = fmt.Sprintf("%s (%s) is not present and registry %s has no such tag", im.ref, who, reg)
		f.Fix = fmt.Sprintf("use a tag that exists (clocal update SERVICE --list shows them) or push %s", im.ref)
	case registry.ReasonTLS:
		f.Message = fmt.Sprintf("%s (%s) is not present and registry %s cannot be reached securely (%s)", im.ref, who, reg, pe.Detail)
		f.Fix = fmt.Sprintf("trust the registry's certificate, or add %s to the daemon's insecure-registries", reg)
	default:
		f.Message = fmt.Sprintf("%s (%s) is not present and registry %s answered: %s", im.ref, who, reg, pe.Detail)
		f.Fix = "docker pull " + im.ref
	}
	return f
}

func dedupeSorted(s []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(s)))
}
