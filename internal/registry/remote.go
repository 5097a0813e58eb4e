package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/system"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Remote asks registries directly (Registry HTTP API v2) through go-containerregistry:
// what digest a tag names now, which tags a repository has and when each was built.
type Remote struct {
	Auth *Auth
	// Insecure says whether the daemon talks plain HTTP to a registry (its
	// insecure-registries, see InsecureFromInfo). Loopback and private addresses are
	// always tried over plain HTTP too, as go-containerregistry and the daemon do.
	Insecure func(host string) bool
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

func (r *Remote) timeout() time.Duration {
	if r == nil || r.Timeout <= 0 {
		return 10 * time.Second
	}
	return r.Timeout
}

func (r *Remote) nameOpts(ref string) []name.Option {
	if r != nil && r.Insecure != nil && r.Insecure(Host(ref)) {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (r *Remote) options(ctx context.Context) []remote.Option {
	var auth *Auth
	if r != nil {
		auth = r.Auth
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(auth.Keychain()),
		remote.WithUserAgent("clocal"),
		// One quick retry: an unreachable registry must fail within seconds, not after
		// go-containerregistry's default 1 s + 3 s backoff.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 1, Steps: 2}),
	}
	if r != nil && r.Transport != nil {
		opts = append(opts, remote.WithTransport(r.Transport))
	}
	return opts
}

func (r *Remote) parse(ref string) (name.Reference, error) {
	full, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	return name.ParseReference(full, r.nameOpts(ref)...)
}

// Digest returns the digest the registry serves for ref now (the manifest or index digest,
// what `docker pull` records in RepoDigests). Errors are *PullError.
func (r *Remote) Digest(ctx context.Context, ref string) (string, error) {
	nref, err := r.parse(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	desc, err := remote.Head(nref, r.options(ctx)...)
	if err != nil {
		return "", newPullError(ref, nil, err)
	}
	return desc.Digest.String(), nil
}

// Tag is one tag of a repository, as the registry describes it.
type Tag struct {
	Ref     string    `json:"ref"`     // registry/repo:tag
	Tag     string    `json:"tag"`     // the tag
	Digest  string    `json:"digest"`  // manifest (or index) digest
	Created time.Time `json:"created"` // image config "created" (zero when the image does not say)
	Err     string    `json:"error,omitempty"`
}

// Tags lists the tags of the repository of ref with their digests and creation dates,
// newest first (tags without a date last, by name). Details of up to jobs tags are fetched
// at once; a tag whose details fail is listed with Err. The listing itself failing is a
// *PullError.
func (r *Remote) Tags(ctx context.Context, ref string, jobs int) ([]Tag, error) {
	nref, err := r.parse(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	repo := nref.Context()
	lctx, cancel := context.WithTimeout(ctx, 3*r.timeout())
	defer cancel()
	names, err := remote.List(repo, r.options(lctx)...)
	if err != nil {
		pe := newPullError(ref, nil, err)
		pe.Listing = true
		return nil, pe
	}
	if jobs <= 0 {
		jobs = 8
	}
	out := make([]Tag, len(names))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, t := range names {
		out[i] = Tag{Ref: displayRepo(ref) + ":" + t, Tag: t}
		wg.Add(1)
		go func(tg *Tag) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tctx, cancel := context.WithTimeout(ctx, r.timeout())
			defer cancel()
			digest, created, err := r.describe(tctx, repo.Tag(tg.Tag))
			tg.Digest, tg.Created = digest, created
			if err != nil {
				_, detail := classify(err)
				tg.Err = detail
			}
		}(&out[i])
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Created.IsZero() != b.Created.IsZero() {
			return !a.Created.IsZero()
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		return a.Tag > b.Tag
	})
	return out, nil
}

// describe returns a tag's digest and its image's creation time (for an index, the image
// for this platform: linux/amd64 unless the index has only others).
func (r *Remote) describe(ctx context.Context, ref name.Reference) (string, time.Time, error) {
	desc, err := remote.Get(ref, r.options(ctx)...)
	if err != nil {
		return "", time.Time{}, err
	}
	digest := desc.Digest.String()
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return digest, time.Time{}, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return digest, time.Time{}, err
		}
		if len(m.Manifests) == 0 {
			return digest, time.Time{}, nil
		}
		pick := m.Manifests[0]
		for _, d := range m.Manifests {
			if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == "amd64" {
				pick = d
				break
			}
		}
		if img, err = idx.Image(pick.Digest); err != nil {
			return digest, time.Time{}, err
		}
	} else if img, err = desc.Image(); err != nil {
		return digest, time.Time{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return digest, time.Time{}, err
	}
	return digest, cfg.Created.Time, nil
}

// displayRepo is ref without tag or digest, as written (no docker.io/library/ added).
func displayRepo(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		ref = ref[:i]
	}
	return ref
}

// InsecureFromInfo returns the daemon's view of which registries speak plain HTTP: its
// insecure-registries (names and CIDRs; 127.0.0.0/8 is always among them).
func InsecureFromInfo(info system.Info) func(host string) bool {
	rc := info.RegistryConfig
	return func(host string) bool {
		if rc == nil {
			return false
		}
		if ic, ok := rc.IndexConfigs[host]; ok && ic != nil {
			return !ic.Secure
		}
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		ip := net.ParseIP(h)
		if ip == nil {
			if addrs, err := net.LookupIP(h); err == nil && len(addrs) > 0 {
				ip = addrs[0]
			}
		}
		if ip == nil {
			return false
		}
		for _, n := range rc.InsecureRegistryCIDRs {
			if n != nil && (*net.IPNet)(n).Contains(ip) {
				return true
			}
		}
		return false
	}
}

// InsecureFromDaemon is InsecureFromInfo with the daemon's info, asked for once, on the
// first registry that is not obviously local (nil docker: none is insecure).
func InsecureFromDaemon(docker interface {
	Info(context.Context) (system.Info, error)
}) func(host string) bool {
	var (
		once sync.Once
		f    func(string) bool
	)
	return func(host string) bool {
		if docker == nil {
			return false
		}
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			info, err := docker.Info(ctx)
			if err != nil {
				f = func(string) bool { return false }
				return
			}
			f = InsecureFromInfo(info)
		})
		return f(host)
	}
}
