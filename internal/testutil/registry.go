package testutil

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"golang.org/x/crypto/bcrypt"

	"github.com/clocal-dev/clocal/internal/labels"
)

// RegistryBinary is Debian's docker-registry (Distribution 2.8), which .ci/run installs.
const RegistryBinary = "docker-registry"

// Registry is a throwaway Docker registry (Debian's docker-registry) serving plain HTTP
// on a free loopback port. The Docker daemon trusts registries on 127.0.0.0/8 without
// TLS, so `docker push 127.0.0.1:PORT/team/app:1` works with no daemon configuration.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of the image references it serves.
	Host string
	dir  string
	// user and password of RegistryLogin ("" without).
	user, password string
	cmd            *exec.Cmd
	done           chan struct{}
	once           sync.Once
}

// RegistryOption configures StartRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct{ user, password string }

// RegistryLogin makes the registry require HTTP basic auth with this user and password
// (htpasswd, bcrypt).
func RegistryLogin(user, password string) RegistryOption {
	return func(c *registryConfig) { c.user, c.password = user, password }
}

// StartRegistry starts a registry for this test on a free loopback port, with its storage
// in the test's temp dir, and stops it when the test ends. Without the docker-registry
// binary the test is skipped, or FAILS when CI=true.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	var rc registryConfig
	for _, o := range opts {
		o(&rc)
	}
	SkipInUnitLane(t, "a registry ("+RegistryBinary+")")
	bin, err := exec.LookPath(RegistryBinary)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s is not installed (apt-get install docker-registry; .ci/run does)", RegistryBinary)
		}
		t.Skipf("%s not installed (apt-get install docker-registry); set CI=true to make this a failure", RegistryBinary)
	}
	var lastErr error
	// A free port found by listening on :0 can be taken by someone else before the
	// registry binds it: try a few ports.
	for attempt := 0; attempt < 5; attempt++ {
		r, err := startRegistry(bin, t.TempDir(), rc)
		if err == nil {
			t.Cleanup(r.Stop)
			return r
		}
		lastErr = err
	}
	t.Fatalf("start %s: %v", RegistryBinary, lastErr)
	return nil
}

func startRegistry(bin, dir string, rc registryConfig) (*Registry, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}
http: {addr: %s}
`, filepath.Join(dir, "data"), host)
	if rc.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(rc.password), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(rc.user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		config += fmt.Sprintf("auth: {htpasswd: {realm: clocal-test, path: %s}}\n", htpasswd)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &Registry{Host: host, dir: dir, cmd: cmd, done: make(chan struct{}), user: rc.user, password: rc.password}
	go func() { _ = cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			return nil, fmt.Errorf("%s exited: %s", bin, strings.TrimSpace(string(log)))
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (rc.user != "" && resp.StatusCode == http.StatusUnauthorized) {
				return r, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Stop()
	return nil, fmt.Errorf("%s did not answer on %s within 20s", bin, host)
}

// Stop stops the registry (idempotent). Afterwards its address refuses connections: an
// unreachable registry.
func (r *Registry) Stop() {
	r.once.Do(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
}

// Ref returns the registry's reference for repoTag ("team/app:1" → "127.0.0.1:PORT/team/app:1").
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// Push tags the local image src as r.Ref(repoTag), pushes it, and removes that tag again, so
// the daemon has to pull it back from the registry. It returns the registry reference.
func (r *Registry) Push(t testing.TB, cli client.APIClient, src, repoTag string) string {
	t.Helper()
	ref := r.Ref(repoTag)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := r.PushImage(ctx, cli, src, ref); err != nil {
		t.Fatal(err)
	}
	if err := Untag(ctx, cli, ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// PushImage tags src as ref and pushes ref, with the registry's login when it has one.
func (r *Registry) PushImage(ctx context.Context, cli client.APIClient, src, ref string) error {
	if err := cli.ImageTag(ctx, src, ref); err != nil {
		return fmt.Errorf("tag %s as %s: %w", src, ref, err)
	}
	auth, _ := registry.EncodeAuthConfig(registry.AuthConfig{Username: r.user, Password: r.password, ServerAddress: r.Host})
	rc, err := cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// Untag removes one tag of an image (the image stays when other tags name it). A missing
// tag is not an error.
func Untag(ctx context.Context, cli client.APIClient, ref string) error {
	_, err := cli.ImageRemove(ctx, ref, image.RemoveOptions{})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("untag %s: %w", ref, err)
	}
	return nil
}

// Tags lists the tags of repo ("team/app") as the registry's HTTP API v2 does.
func (r *Registry) Tags(repo string) ([]string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+r.Host+"/v2/"+repo+"/tags/list", nil)
	if err != nil {
		return nil, err
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Tags []string `json:"tags"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET tags of %s: %s", repo, resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out.Tags, err
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClosedAddr returns "127.0.0.1:PORT" where nothing listens: a registry host that refuses
// connections.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// ImportImage creates a local image tagged tag from files (path → content, regular files
// of mode 0644, or 0755 when the path starts with "bin/"), with the given Dockerfile-style
// changes (e.g. `CMD ["/bin/x"]`), like `docker import`. Different files give different
// image IDs: tests use it for base images whose tag moves. The caller removes the image.
func ImportImage(ctx context.Context, cli client.APIClient, tag string, files map[string]string, changes ...string) error {
	buf, err := tarOf(files, func(name string) int64 {
		if strings.HasPrefix(name, "bin/") {
			return 0o755
		}
		return 0o644
	})
	if err != nil {
		return err
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: buf, SourceName: "-"}, tag, image.ImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	return nil
}

// BuildImage builds tag from a Dockerfile and files (the build context, every file
// executable) with the classic builder, labelled dev.clocal.test=true, pulling nothing
// (every FROM must be local). The caller removes the image.
func BuildImage(ctx context.Context, cli client.APIClient, tag, dockerfile string, files map[string]string) error {
	all := map[string]string{"Dockerfile": dockerfile}
	for k, v := range files {
		all[k] = v
	}
	buf, err := tarOf(all, func(string) int64 { return 0o755 })
	if err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, buf, build.ImageBuildOptions{Tags: []string{tag}, Version: build.BuilderV1,
		Remove: true, ForceRemove: true, Labels: map[string]string{labels.Test: "true"}})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	return nil
}

// tarOf writes files (name → content) as a tar stream, with the mode mode gives each.
func tarOf(files map[string]string, mode func(name string) int64) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode(name), Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}

// BlobFault is what a BlobProxy does to a large blob (a layer) half-way through sending it.
type BlobFault int

const (
	// StallHalfway sends the first half of the blob, then nothing until the client gives
	// up: a pull stuck mid-transfer, for Ctrl-C tests.
	StallHalfway BlobFault = iota
	// CorruptHalfway sends the first half of the blob and garbage for the rest (the length
	// the registry announced): the daemon's digest check fails after the whole download, an
	// error it does not retry.
	CorruptHalfway
)

// BlobProxy is a registry address in front of a Registry that passes everything through
// but the blobs of at least LargeBlob bytes, to which it does its Fault half-way. Halfway
// reports each such blob, with the bytes sent, once its first half is out.
type BlobProxy struct {
	Host    string
	Halfway chan int64
}

// LargeBlob is the size from which a BlobProxy interferes (configs and small layers pass).
const LargeBlob = 1 << 20

// StartBlobProxy serves on a free loopback port until the test ends.
func StartBlobProxy(t testing.TB, reg *Registry, fault BlobFault) *BlobProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse("http://" + reg.Host)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &BlobProxy{Host: l.Addr().String(), Halfway: make(chan int64, 64)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/blobs/") || r.Method != http.MethodGet {
			rp.ServeHTTP(w, r)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://"+reg.Host+r.URL.RequestURI(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		if resp.StatusCode != http.StatusOK || resp.ContentLength < LargeBlob {
			_, _ = io.Copy(w, resp.Body)
			return
		}
		half := resp.ContentLength / 2
		n, _ := io.CopyN(w, resp.Body, half)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case p.Halfway <- n:
		default:
		}
		switch fault {
		case StallHalfway:
			<-r.Context().Done()
		case CorruptHalfway:
			_, _ = io.CopyN(w, zeros{}, resp.ContentLength-n)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// LargeImage creates a local image tagged tag with one layer of size bytes of random data
// (incompressible: its blob in a registry is as large), for pulls that take a while. The
// caller removes the image.
func LargeImage(ctx context.Context, cli client.APIClient, tag string, size int) error {
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	return ImportImage(ctx, cli, tag, map[string]string{"data": string(data), "tag": tag})
}
