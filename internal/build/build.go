// Package build turns a service folder into a local image, the way production
// does it: the production build.sh runs unchanged (under a pseudo-terminal, so
// `docker run -it` inside it works, pulling its toolchain image as the docker CLI
// would), then the production Dockerfile is built through the Docker Engine API.
// Base images (FROM, COPY --from) missing locally are pulled first through
// Builder.PullBases, with the user's registry credentials.
//
// Images are tagged clocal/<service>:<hash12>, where the hash covers everything
// the build reads (see Builder.Hash), the base images' IDs included, so an
// unchanged service is never rebuilt and a base whose tag moved rebuilds.
//
// # The build.sh environment
//
// build.sh runs as `bash <script>` (`sh <script>` when bash is missing), with the
// service folder (Spec.Dir) as working directory, stdin/stdout/stderr on a fresh
// 120x40 pseudo-terminal in its own session and process group, and the
// environment of the clocal process plus:
//
//	CLOCAL=1                 always set: lets a script tell a local build from production
//	CLOCAL_SERVICE=<name>    the local service name (Spec.Service)
//	CLOCAL_SOURCE=<dir>      absolute source folder (Spec.Source; empty when none)
//	CLOCAL_HASH=<hash>       the 64-hex-digit content hash of this build
//	CLOCAL_IMAGE=<ref>       the image that will be tagged: clocal/<service>:<hash12>
//	<Spec.Env>               the service's extra build env (part of the hash)
//
// When images are built on another daemon than the one build.sh should use (a stack on a
// remote Docker host: Builder.ScriptDocker), DOCKER_HOST names this machine's daemon and
// DOCKER_CONTEXT is removed, so `docker run -v "$(pwd)/.src:/out" …` runs where the
// sources are.
//
// The CLOCAL_* variables win over Spec.Env and the inherited environment. TERM is
// set to xterm-256color when the process has none. Cancelling the context
// sends SIGTERM to the script's whole process group and SIGKILL 5 s later.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/registry"
)

// ImageRepoPrefix is the repository prefix of every image clocal builds.
const ImageRepoPrefix = "clocal/"

// Spec describes how one service is built.
type Spec struct {
	Service    string            // local service name (lower-case image-name component)
	Dir        string            // abs service folder (build.sh runs here, cwd)
	Script     string            // abs path of build.sh ("" = no script, image build only)
	Dockerfile string            // abs path
	Context    string            // abs build context dir
	Source     string            // abs source folder ("" if none); hashed
	Inputs     []string          // abs extra folders the build reads (shared libraries); hashed
	Env        map[string]string // extra build env (hashed)
	Ignore     []string          // .dockerignore-syntax patterns relative to Source (not hashed)
	Outputs    []string          // abs paths build.sh writes (never hashed)
	Runtime    []string          // abs files mounted into the container at run time (configs:): not build inputs, never hashed
	Labels     map[string]string // extra image labels (hashed: they are part of the image)
}

// Result is what Ensure did.
type Result struct {
	Image     string // clocal/<service>:<hash12>
	Hash      string // full content hash (64 hex digits)
	Built     bool   // false: the image already existed and nothing ran
	ScriptDur time.Duration
	ImageDur  time.Duration
}

// Builder builds service images. The zero value plus Docker is usable; a Builder
// is safe for concurrent use (builds of one service are serialised).
type Builder struct {
	Docker client.APIClient
	Out    io.Writer // build output, one "<service> | " prefixed line per Write; nil discards
	// Plain removes every escape sequence, colours included, from build output, and runs
	// build.sh with NO_COLOR=1 (colour not wanted: NO_COLOR, --no-color, not a terminal).
	Plain bool
	// Progress, when set, receives the steps and output lines of builds instead of Out
	// (a live display, one line per service).
	Progress Progress
	CacheDir string // where the stat cache lives, e.g. <workspace>/.clocal/cache; "" = memory only

	// Shell runs build.sh; default "bash" when found in PATH, else "sh".
	Shell string
	// KillGrace is how long a cancelled build.sh gets between SIGTERM and SIGKILL
	// (default 5s).
	KillGrace time.Duration
	// Backend builds the image: BackendAuto (BuildKit when the daemon offers it),
	// BackendClassic or BackendBuildKit (see BackendFromEnv).
	Backend string
	// ScriptDocker is the Docker daemon build.sh's own docker commands talk to, when it
	// is not the one images are built on (Docker): a stack on a remote host builds its
	// images there, but `docker run -v "$(pwd)/.src:/out" …` in build.sh must run where
	// the sources are; and a daemon chosen by clocal's --docker-host or --context is not
	// the one build.sh's inherited DOCKER_HOST or DOCKER_CONTEXT names. build.sh then gets
	// DOCKER_HOST=ScriptDocker (a URL) and no DOCKER_CONTEXT, or DOCKER_CONTEXT=ScriptDocker
	// (a context name) and no DOCKER_HOST. "" leaves build.sh's environment as it is.
	ScriptDocker string
	// Jobs bounds how many build.sh runs and image builds run at once (0: automatic,
	// from the cores of this machine and of the daemon; see JobsFromEnv).
	Jobs int
	// PullBases makes the Dockerfile's images that are missing locally present (refs,
	// needed by service), pulling them under the stack's pull policy. nil: a missing base
	// image is a *MissingImageError.
	PullBases func(ctx context.Context, service string, refs []string) error
	// Auth hands the user's registry credentials to the image build (what docker build
	// does), for images the build itself pulls.
	Auth *registry.Auth

	scripts, images, hashes slotPool

	mu     sync.Mutex
	outMu  sync.Mutex
	caches map[string]*statCache
	locks  map[string]*sync.Mutex
	built  map[string]time.Time // content hash -> when this Builder built its image
	bk     *buildKit
}

// ScriptError is returned when build.sh fails. Tail holds its last output lines
// (at most TailLines, escape sequences removed) for the caller to show.
type ScriptError struct {
	Service  string
	ExitCode int // -1 when killed by a signal or not started
	Tail     []string
	Err      error // underlying cause (exec error, context error)
}

func (e *ScriptError) Error() string {
	switch {
	case e.ExitCode >= 0:
		return fmt.Sprintf("build.sh for %s failed (exit status %d)", e.Service, e.ExitCode)
	case e.Err != nil:
		return fmt.Sprintf("build.sh for %s failed: %v", e.Service, e.Err)
	default:
		return fmt.Sprintf("build.sh for %s failed", e.Service)
	}
}

func (e *ScriptError) Unwrap() error { return e.Err }

// ImageError is returned when the Engine rejects the image build (a failing RUN,
// a missing COPY source...). Tail holds the last lines of the build output.
type ImageError struct {
	Service string
	Msg     string
	Tail    []string
}

func (e *ImageError) Error() string {
	return fmt.Sprintf("image build for %s failed: %s", e.Service, e.Msg)
}

// MissingImageError is returned, before anything runs, when the Dockerfile needs
// an image (FROM, COPY --from) that does not exist locally and the Builder may not
// pull it (no PullBases).
type MissingImageError struct {
	Service string
	Image   string
}

func (e *MissingImageError) Error() string {
	return fmt.Sprintf("build %s: base image %q is not present locally: pull it (docker pull %s) or build it first", e.Service, e.Image, e.Image)
}

// TailLines is how many trailing output lines ScriptError and ImageError keep.
const TailLines = 20

// ImageRef returns the image reference for a service and content hash.
func ImageRef(service, hash string) string {
	return ImageRepoPrefix + service + ":" + short(hash)
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// serviceRe is a valid single docker repository path component.
var serviceRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

func (s Spec) validate() error {
	if !serviceRe.MatchString(s.Service) {
		return fmt.Errorf("build: invalid service name %q: must be lower-case letters, digits and single separators (. _ -) to form an image name", s.Service)
	}
	check := func(what, p string, required bool) error {
		if p == "" {
			if required {
				return fmt.Errorf("build %s: %s is required", s.Service, what)
			}
			return nil
		}
		if !filepath.IsAbs(p) {
			return fmt.Errorf("build %s: %s %q must be an absolute path", s.Service, what, p)
		}
		return nil
	}
	for _, c := range []struct {
		what, p  string
		required bool
	}{
		{"Dir", s.Dir, s.Script != ""},
		{"Script", s.Script, false},
		{"Dockerfile", s.Dockerfile, true},
		{"Context", s.Context, true},
		{"Source", s.Source, false},
	} {
		if err := check(c.what, c.p, c.required); err != nil {
			return err
		}
	}
	for _, o := range s.Outputs {
		if err := check("output", o, false); err != nil {
			return err
		}
	}
	for _, in := range s.Inputs {
		if err := check("input", in, false); err != nil {
			return err
		}
	}
	return nil
}

// Ensure makes sure the image for the current content of s exists. Base images
// missing locally are pulled first (PullBases; without it a *MissingImageError is
// returned before anything runs). When clocal/<service>:<hash12> is already
// present and force is false nothing else runs (Result.Built is false).
// Otherwise build.sh runs, then the image is built and tagged. A failing build.sh
// returns a *ScriptError and no image is built.
func (b *Builder) Ensure(ctx context.Context, s Spec, force bool) (res Result, err error) {
	if err := s.validate(); err != nil {
		return Result{}, err
	}
	if b.Docker == nil {
		return Result{}, fmt.Errorf("build %s: no Docker client", s.Service)
	}
	asked := time.Now()
	// One build at a time per service, and per build folder: the replicas of one app split
	// into several services (same service folder, same source) run one build.sh, not
	// several at once on the same files, and the others reuse its image (reuse).
	unlock := b.lock(buildKey(s))
	defer unlock()
	b.step(s.Service, StepPreparing)
	defer func() {
		switch {
		case err != nil:
			b.step(s.Service, StepFailed)
		case res.Built:
			b.step(s.Service, StepBuilt)
		default:
			b.step(s.Service, StepUpToDate)
		}
	}()

	// The base images first: their IDs are part of the content hash.
	df, err := os.ReadFile(s.Dockerfile)
	if err != nil {
		return Result{}, fmt.Errorf("build %s: %w", s.Service, err)
	}
	refs, parseErr := baseImages(df)
	bases, err := b.ensureBases(ctx, s.Service, refs)
	if err != nil {
		return Result{}, err
	}

	release, err := b.hashSlot(ctx)
	if err != nil {
		return Result{}, err
	}
	hash, before, err := b.hash(s, true, bases)
	release()
	if err != nil {
		return Result{}, fmt.Errorf("build %s: hash: %w", s.Service, err)
	}
	res = Result{Image: ImageRef(s.Service, hash), Hash: hash}

	if !force {
		exists, err := b.imageExists(ctx, res.Image)
		if err != nil {
			return res, fmt.Errorf("build %s: inspect %s: %w", s.Service, res.Image, err)
		}
		if exists {
			return res, nil
		}
	}
	if ok, err := b.reuse(ctx, s, hash, res.Image, force, asked); err != nil || ok {
		return res, err
	}
	if parseErr != nil {
		return res, fmt.Errorf("build %s: %s: %w", s.Service, s.Dockerfile, parseErr)
	}

	if s.Script != "" {
		release, err = b.scriptSlot(ctx)
		if err != nil {
			return res, err
		}
		b.step(s.Service, StepScript)
		start := time.Now()
		err = b.runScript(ctx, s, hash, res.Image)
		res.ScriptDur = time.Since(start)
		release()
		if err != nil {
			return res, err
		}
		// build.sh must only write Outputs: anything else it changes in the
		// hashed inputs makes the next Ensure rebuild again.
		if _, after, err := b.hash(s, true, bases); err == nil {
			if changed := diffManifests(before, after, 5); len(changed) > 0 {
				b.logf(s.Service, "warning: build.sh changed files the content hash covers (%s); list them in build.outputs or watch.ignore, or every run rebuilds", strings.Join(changed, ", "))
			}
		}
	}

	release, err = b.imageSlot(ctx)
	if err != nil {
		return res, err
	}
	b.step(s.Service, StepImage)
	start := time.Now()
	err = b.buildImage(ctx, s, hash, res.Image)
	res.ImageDur = time.Since(start)
	release()
	if err != nil {
		return res, err
	}
	res.Built = true
	b.mu.Lock()
	if b.built == nil {
		b.built = map[string]time.Time{}
	}
	b.built[hash] = time.Now()
	b.mu.Unlock()
	return res, nil
}

// buildKey names what builds of s share: the service folder build.sh runs in and the
// source it compiles (the replicas of one app split into several services share both).
func buildKey(s Spec) string {
	return s.Dir + "\x00" + s.Source
}

// reuse tags as ref an image built in the same service folder from the same content hash
// (which covers every input of the build): split replicas of one app build once. A forced
// build reuses only an image this Builder built after the build was asked for (the same
// forced rebuild, run for a replica). It reports whether image now exists.
func (b *Builder) reuse(ctx context.Context, s Spec, hash, ref string, force bool, asked time.Time) (bool, error) {
	if force {
		b.mu.Lock()
		at, ok := b.built[hash]
		b.mu.Unlock()
		if !ok || at.Before(asked) {
			return false, nil
		}
	}
	imgs, err := b.Docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labels.Hash+"="+hash), filters.Arg("label", labels.BuildDir+"="+s.Dir))})
	if err != nil || len(imgs) == 0 {
		return false, nil // nothing to reuse: build
	}
	if err := b.Docker.ImageTag(ctx, imgs[0].ID, ref); err != nil {
		return false, fmt.Errorf("build %s: tag %s: %w", s.Service, ref, err)
	}
	b.logf(s.Service, "same content as an image built for another service: tagged it %s (nothing built)", ref)
	return true, nil
}

// baseID is one image a Dockerfile builds on, with the local image ID it resolves to
// ("" when missing).
type baseID struct{ ref, id string }

// resolveBases looks the Dockerfile's images up locally.
func (b *Builder) resolveBases(ctx context.Context, service string, refs []string) ([]baseID, []string, error) {
	out := make([]baseID, 0, len(refs))
	var missing []string
	for _, ref := range refs {
		img, err := b.Docker.ImageInspect(ctx, ref)
		switch {
		case err == nil:
			out = append(out, baseID{ref, img.ID})
		case cerrdefs.IsNotFound(err):
			out = append(out, baseID{ref, ""})
			missing = append(missing, ref)
		default:
			return nil, nil, fmt.Errorf("build %s: inspect base image %s: %w", service, ref, err)
		}
	}
	return out, missing, nil
}

// ensureBases resolves the Dockerfile's images, pulling the missing ones (PullBases).
func (b *Builder) ensureBases(ctx context.Context, service string, refs []string) ([]baseID, error) {
	bases, missing, err := b.resolveBases(ctx, service, refs)
	if err != nil || len(missing) == 0 {
		return bases, err
	}
	if b.PullBases == nil {
		return nil, &MissingImageError{Service: service, Image: missing[0]}
	}
	if err := b.PullBases(ctx, service, missing); err != nil {
		return nil, fmt.Errorf("build %s: %w", service, err)
	}
	bases, missing, err = b.resolveBases(ctx, service, refs)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &MissingImageError{Service: service, Image: missing[0]}
	}
	return bases, nil
}

func (b *Builder) imageExists(ctx context.Context, ref string) (bool, error) {
	_, err := b.Docker.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// lock serialises builds of one key.
func (b *Builder) lock(service string) func() {
	b.mu.Lock()
	if b.locks == nil {
		b.locks = map[string]*sync.Mutex{}
	}
	m := b.locks[service]
	if m == nil {
		m = &sync.Mutex{}
		b.locks[service] = m
	}
	b.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Progress receives what builds do, for a live display.
type Progress interface {
	// Step says what a service's build does now: StepPreparing, StepScript, StepImage,
	// then one of StepBuilt, StepUpToDate, StepFailed.
	Step(service, step string)
	// Line is one line of the service's build output (build.sh, the image build).
	Line(service, line string)
}

// Build steps, as reported to Progress.
const (
	StepPreparing = "preparing" // base images, content hash
	StepScript    = "build.sh"
	StepImage     = "image"
	StepBuilt     = "built"
	StepUpToDate  = "up to date"
	StepFailed    = "failed"
)

// IsFinal reports whether step ends a service's build.
func IsFinal(step string) bool {
	return step == StepBuilt || step == StepUpToDate || step == StepFailed
}

func (b *Builder) step(service, step string) {
	if b.Progress != nil {
		b.Progress.Step(service, step)
	}
}

// lineOut is where a service's output lines go (prefixed "<service> | ", with their
// newline, as lineWriter emits them): Progress when set, else Out.
func (b *Builder) lineOut(service string) func(string) {
	prefix := service + " | "
	return func(line string) {
		if p := b.Progress; p != nil {
			p.Line(service, strings.TrimSuffix(strings.TrimPrefix(line, prefix), "\n"))
			return
		}
		// Build output is printed: secrets a script echoes are masked (redact.Text).
		b.writeLine(redact.Text(line))
	}
}

// newServiceLines is the line writer of a service's build output.
func (b *Builder) newServiceLines(service string) *lineWriter {
	lw := newLineWriter(service+" | ", TailLines, b.lineOut(service))
	lw.plain = b.Plain
	return lw
}

// writeLine writes one complete line to Out in a single Write.
func (b *Builder) writeLine(line string) {
	if b.Out == nil {
		return
	}
	b.outMu.Lock()
	defer b.outMu.Unlock()
	_, _ = io.WriteString(b.Out, line)
}

func (b *Builder) logf(service, format string, args ...any) {
	b.lineOut(service)(service + " | " + strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n")
}

var errNoShell = errors.New("neither bash nor sh found in PATH")
