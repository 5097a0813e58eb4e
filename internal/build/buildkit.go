package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/tonistiigi/fsutil"
)

// Backends: how the image is built from the Dockerfile.
const (
	// BackendAuto uses BuildKit when the daemon offers it, else the classic builder.
	BackendAuto = ""
	// BackendClassic is the Engine's classic builder (/build, version 1): one container
	// per instruction, available on every daemon.
	BackendClassic = "classic"
	// BackendBuildKit is the daemon's embedded BuildKit, reached over the Engine API
	// (/grpc and /session, what buildx's "docker" driver uses): no buildx plugin, no
	// registry. Metadata instructions cost no container and the context is sent
	// incrementally, so the image step of an edit is several times shorter.
	BackendBuildKit = "buildkit"
)

// BackendFromEnv reads CLOCAL_BUILDER (classic, buildkit, or empty/auto).
func BackendFromEnv() (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("CLOCAL_BUILDER"))); v {
	case "", "auto":
		return BackendAuto, nil
	case BackendClassic, BackendBuildKit:
		return v, nil
	default:
		return "", fmt.Errorf("CLOCAL_BUILDER=%q: want classic, buildkit or auto", v)
	}
}

// buildKitProbeTimeout bounds the first contact with the daemon's BuildKit; buildKitWait
// how long a build waits for a connection lost to a daemon restart to come back.
const (
	buildKitProbeTimeout = 5 * time.Second
	buildKitWait         = 20 * time.Second
)

// buildKit connects once per Builder to the daemon's BuildKit. A daemon without it (an
// old or non-Docker engine) is remembered as such for buildKitRetry, so that auto falls
// back to the classic builder without asking every build, and a long watch that started
// while the daemon was restarting still gets BuildKit later.
type buildKit struct {
	mu       sync.Mutex
	c        *bkclient.Client
	err      error
	failedAt time.Time
}

// buildKitRetry is how long a failed BuildKit probe is believed.
var buildKitRetry = time.Minute

func (b *Builder) buildKitClient(ctx context.Context) (*bkclient.Client, error) {
	b.mu.Lock()
	if b.bk == nil {
		b.bk = &buildKit{}
	}
	bk := b.bk
	b.mu.Unlock()
	bk.mu.Lock()
	defer bk.mu.Unlock()
	if bk.c != nil {
		return bk.c, nil
	}
	if bk.err != nil && time.Since(bk.failedAt) < buildKitRetry {
		return nil, bk.err
	}
	bk.c, bk.err = b.probeBuildKit(ctx)
	if bk.err != nil {
		bk.failedAt = time.Now()
	}
	return bk.c, bk.err
}

// probeBuildKit connects to the daemon's BuildKit and checks that it answers.
func (b *Builder) probeBuildKit(ctx context.Context) (*bkclient.Client, error) {
	c, err := bkclient.New(context.Background(), "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return b.Docker.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return b.Docker.DialHijack(ctx, "/session", proto, meta)
		}))
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, buildKitProbeTimeout)
	defer cancel()
	if _, err := c.ListWorkers(pctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("the Docker daemon offers no BuildKit: %w", err)
	}
	return c, nil
}

// BuildKitAvailable reports whether the daemon offers BuildKit (nil) or why not.
func (b *Builder) BuildKitAvailable(ctx context.Context) error {
	_, err := b.buildKitClient(ctx)
	return err
}

// useBuildKit decides the backend for one build: the BuildKit client, or nil for the
// classic builder. A Dockerfile with a `# syntax=` line always goes to the classic
// builder, which ignores the line: BuildKit would pull that frontend image, and no
// registry is reachable.
func (b *Builder) useBuildKit(ctx context.Context, s Spec, dockerfile []byte) (*bkclient.Client, error) {
	if b.Backend == BackendClassic {
		return nil, nil
	}
	if ref, _, _, ok := parser.DetectSyntax(dockerfile); ok {
		b.logf(s.Service, "Dockerfile names a frontend image (# syntax=%s): built with the classic builder, which ignores it", ref)
		return nil, nil
	}
	c, err := b.buildKitClient(ctx)
	if err != nil && b.Backend == BackendBuildKit {
		return nil, fmt.Errorf("build %s: CLOCAL_BUILDER=buildkit: %w", s.Service, err)
	}
	return c, nil
}

// buildKitImage builds s with the daemon's BuildKit and stores the image under image in
// the daemon's image store. The context sent is the one the content hash covers (the
// context folder minus .dockerignore); labels go in as frontend attributes, not as
// Dockerfile instructions. It returns the last lines of the build output.
func (b *Builder) buildKitImage(ctx context.Context, c *bkclient.Client, s Spec, image string, bc buildContext, labels map[string]string) ([]string, error) {
	// The connection to BuildKit outlives a daemon restart (a watch keeps its Builder):
	// wait for it to be usable again rather than fail the first build after one.
	wctx, cancel := context.WithTimeout(ctx, buildKitWait)
	err := c.Wait(wctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build %s: image build: %w", s.Service, ctx.Err())
		}
		return nil, fmt.Errorf("build %s: the daemon's BuildKit does not answer: %w", s.Service, err)
	}
	ctxFS, err := fsutil.NewFS(bc.root)
	if err != nil {
		return nil, fmt.Errorf("build %s: context: %w", s.Service, err)
	}
	if len(bc.excludes) > 0 {
		if ctxFS, err = fsutil.NewFilterFS(ctxFS, &fsutil.FilterOpt{ExcludePatterns: bc.excludes}); err != nil {
			return nil, fmt.Errorf("build %s: .dockerignore: %w", s.Service, err)
		}
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(bc.dockerfile))
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", s.Service, err)
	}
	attrs := map[string]string{"filename": filepath.Base(bc.dockerfile)}
	for k, v := range labels {
		attrs["label:"+k] = v
	}
	// One shared key per context folder: BuildKit keeps the last transfer of it and sends
	// only what changed since.
	key := sha256.Sum256([]byte(bc.root))

	b.logf(s.Service, "building image %s (BuildKit)", image)
	lw := b.newServiceLines(s.Service)
	status := make(chan *bkclient.SolveStatus)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		printBuildKitStatus(status, lw)
	}()
	_, err = c.Solve(ctx, nil, bkclient.SolveOpt{
		// The user's registry credentials, asked for only if BuildKit itself has to pull
		// (base images are made present before the build).
		Session:       []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{ConfigFile: b.Auth.Config()})},
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		SharedKey:     "clocal-" + hex.EncodeToString(key[:8]),
		Exports:       []bkclient.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": image}}},
	}, status)
	<-printed
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("build %s: image build: %w", s.Service, ctx.Err())
		}
		return nil, &ImageError{Service: s.Service, Msg: buildKitMessage(err), Tail: lw.Tail()}
	}
	return lw.Tail(), nil
}

// printBuildKitStatus writes BuildKit's progress as plain lines, as `docker build
// --progress=plain` does: each step once when it starts, its output, and its error.
func printBuildKitStatus(status <-chan *bkclient.SolveStatus, w *lineWriter) {
	started := map[string]bool{}
	for st := range status {
		for _, v := range st.Vertexes {
			d := v.Digest.String()
			if v.Started != nil && !started[d] && !strings.HasPrefix(v.Name, "[internal]") {
				started[d] = true
				cached := ""
				if v.Cached {
					cached = " (cached)"
				}
				fmt.Fprintf(w, "%s%s\n", v.Name, cached)
			}
			if v.Error != "" && !strings.HasSuffix(v.Error, context.Canceled.Error()) {
				fmt.Fprintf(w, "ERROR %s: %s\n", v.Name, v.Error)
			}
		}
		for _, l := range st.Logs {
			_, _ = w.Write(l.Data)
		}
	}
}

// buildKitMessage is the one line of a BuildKit error that says what failed (its gRPC
// wrapping and stack are noise for the user).
func buildKitMessage(err error) string {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg = e.Error()
	}
	if msg == "" {
		msg = err.Error()
	}
	msg = strings.TrimPrefix(msg, "rpc error: code = Unknown desc = ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
