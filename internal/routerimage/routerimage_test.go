package routerimage

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/pause"
	"github.com/clocal-dev/clocal/internal/router"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// fakeDocker is the part of a daemon Ensure uses: images by reference, and imports.
type fakeDocker struct {
	client.APIClient // nil: any other call panics
	arch             string
	mu               sync.Mutex
	images           map[string]image.InspectResponse
	imported         []imported
}

type imported struct {
	ref, platform string
	changes       []string
	files         map[string]int64 // name -> size
}

func newFake(arch string) *fakeDocker {
	return &fakeDocker{arch: arch, images: map[string]image.InspectResponse{}}
}

func (f *fakeDocker) Info(context.Context) (system.Info, error) {
	return system.Info{Architecture: map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[f.arch]}, nil
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	return image.InspectResponse{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

func (f *fakeDocker) ImageTag(_ context.Context, src, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[src]
	if !ok {
		return cerrdefs.ErrNotFound.WithMessage("No such image: " + src)
	}
	f.images[ref] = img
	return nil
}

func (f *fakeDocker) ImageImport(_ context.Context, src image.ImportSource, ref string, o image.ImportOptions) (io.ReadCloser, error) {
	files := map[string]int64{}
	tr := tar.NewReader(src.Source)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		n, _ := io.Copy(io.Discard, tr)
		if n != h.Size {
			return nil, errors.New("short file")
		}
		files[h.Name] = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imported = append(f.imported, imported{ref: ref, platform: o.Platform, changes: o.Changes, files: files})
	f.images[ref] = image.InspectResponse{Os: "linux", Architecture: f.arch}
	return io.NopCloser(strings.NewReader(`{"status":"sha256:1"}`)), nil
}

// staticExe writes the pause image's hand-made static ELF for arch: an executable the check
// accepts for that architecture.
func staticExe(t *testing.T, arch string) string {
	t.Helper()
	exe, err := pause.Executable(arch)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "clocal")
	if err := os.WriteFile(p, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// dynamicExe is staticExe with its program header turned into PT_INTERP: what the check
// sees in an executable that needs a dynamic loader.
func dynamicExe(t *testing.T) string {
	t.Helper()
	p := staticExe(t, "amd64")
	b, _ := os.ReadFile(p)
	binary.LittleEndian.PutUint32(b[64:], 3) // p_type of the first program header
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func noGo() (string, error) { return "", errors.New("no go command on PATH or in GOROOT") }

func TestCheckExecutable(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, arch, want string
	}{
		{"static amd64", staticExe(t, "amd64"), "amd64", ""},
		{"static arm64", staticExe(t, "arm64"), "arm64", ""},
		{"other arch", staticExe(t, "amd64"), "arm64", "is for linux/amd64, the daemon runs linux/arm64"},
		{"dynamic", dynamicExe(t), "amd64", "dynamically linked"},
		{"not ELF", text, "amd64", "not a Linux one"},
		{"missing", filepath.Join(t.TempDir(), "gone"), "amd64", "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckExecutable(c.path, c.arch)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("CheckExecutable = %v, want %q", err, c.want)
			}
		})
	}
}

func TestRegistryRef(t *testing.T) {
	h := router.Hash()
	for in, want := range map[string]string{
		"registry.company/tools/clocal-router":           "registry.company/tools/clocal-router:" + h,
		"localhost:5000/clocal-router":                   "localhost:5000/clocal-router:" + h,
		"registry.company/tools/clocal-router:v3":        "registry.company/tools/clocal-router:v3",
		"r.io/x@sha256:" + strings.Repeat("a", 64):       "r.io/x@sha256:" + strings.Repeat("a", 64),
		"registry.company:5000/tools/clocal-router:5000": "registry.company:5000/tools/clocal-router:5000",
	} {
		if got := RegistryRef(in); got != want {
			t.Errorf("RegistryRef(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEnsureOrder: the first source that works wins, in the documented order, and nothing
// is made when one before it works.
func TestEnsureOrder(t *testing.T) {
	ctx := context.Background()
	const reg = "registry.company/tools/clocal-router"
	pullAs := func(d *fakeDocker, arch string, calls *[]string) func(context.Context, string) error {
		return func(_ context.Context, ref string) error {
			*calls = append(*calls, ref)
			d.mu.Lock()
			defer d.mu.Unlock()
			d.images[ref] = image.InspectResponse{Os: "linux", Architecture: arch}
			return nil
		}
	}
	t.Run("present", func(t *testing.T) {
		d := newFake("amd64")
		d.images[Tag] = image.InspectResponse{Os: "linux", Architecture: "amd64"}
		var pulls []string
		res, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Pull: pullAs(d, "amd64", &pulls), Executable: staticExe(t, "amd64"), GoTool: noGo})
		if err != nil || res.Source != FromDaemon || len(pulls) > 0 || len(d.imported) > 0 {
			t.Fatalf("res %+v err %v pulls %v imports %d", res, err, pulls, len(d.imported))
		}
	})
	t.Run("build host copy", func(t *testing.T) {
		d := newFake("amd64")
		var pulls []string
		res, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Pull: pullAs(d, "amd64", &pulls), GoTool: noGo,
			Copy: func(_ context.Context, ref string) (bool, error) {
				d.images[ref] = image.InspectResponse{Os: "linux", Architecture: "amd64"}
				return ref == Tag, nil
			}})
		if err != nil || res.Source != FromBuildHost || len(pulls) > 0 {
			t.Fatalf("res %+v err %v pulls %v", res, err, pulls)
		}
	})
	t.Run("registry before executable", func(t *testing.T) {
		d := newFake("amd64")
		var pulls []string
		res, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Pull: pullAs(d, "amd64", &pulls), Executable: staticExe(t, "amd64"), GoTool: noGo})
		if err != nil || res.Source != FromRegistry || res.From != reg+":"+router.Hash() || len(d.imported) > 0 {
			t.Fatalf("res %+v err %v imports %d", res, err, len(d.imported))
		}
		if _, ok := d.images[Tag]; !ok || len(pulls) != 1 || pulls[0] != res.From {
			t.Fatalf("pulls %v, tagged %v", pulls, ok)
		}
	})
	t.Run("registry copy of another arch, then executable", func(t *testing.T) {
		d := newFake("arm64")
		var pulls []string
		res, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Pull: pullAs(d, "amd64", &pulls), Executable: staticExe(t, "arm64"), GoTool: noGo})
		if err != nil || res.Source != FromExecutable || len(d.imported) != 1 {
			t.Fatalf("res %+v err %v imports %d", res, err, len(d.imported))
		}
		im := d.imported[0]
		if im.ref != Tag || im.platform != "linux/arm64" || im.files["clocal"] == 0 || len(im.files) != 1 ||
			!contains(im.changes, `ENTRYPOINT ["/clocal", "__router"]`) {
			t.Fatalf("import %+v", im)
		}
	})
	t.Run("nothing works", func(t *testing.T) {
		d := newFake("amd64")
		_, err := Ensure(ctx, Options{Docker: d, For: []string{"router-a", "router-b", "router-c"}, Executable: dynamicExe(t), GoTool: noGo})
		var ue *UnavailableError
		if !errors.As(err, &ue) || len(d.imported) > 0 {
			t.Fatalf("err %v, imports %d", err, len(d.imported))
		}
		msg := err.Error()
		for _, want := range []string{"router-a, router-b and 1 more (production hosts whose jobs run apart here) need clocal's router image " + Tag + " (linux/amd64)",
			"dynamically linked", "no go command", "set router_image: ", "clocal router push "} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("message is more than one line:\n%s", msg)
		}
	})
	t.Run("registry fails, nothing else works", func(t *testing.T) {
		d := newFake("amd64")
		never := errors.New("image x is not present locally and --pull never forbids pulling it from registry r")
		_, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Pull: func(context.Context, string) error { return never }, GoTool: noGo})
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, never) || !strings.Contains(err.Error(), "router_image did not work: "+never.Error()) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled pull", func(t *testing.T) {
		d := newFake("amd64")
		ctx, cancel := context.WithCancel(ctx)
		_, err := Ensure(ctx, Options{Docker: d, RegistryImage: reg, Executable: staticExe(t, "amd64"), GoTool: noGo,
			Pull: func(ctx context.Context, _ string) error { cancel(); return ctx.Err() }})
		if !errors.Is(err, context.Canceled) || len(d.imported) > 0 {
			t.Fatalf("err %v, imports %d", err, len(d.imported))
		}
	})
	t.Run("go toolchain", func(t *testing.T) {
		goBin, err := GoTool()
		if err != nil {
			t.Skip("no Go toolchain: " + err.Error())
		}
		d := newFake("arm64")
		res, err := Ensure(ctx, Options{Docker: d, Executable: dynamicExe(t), GoTool: func() (string, error) { return goBin, nil }})
		if err != nil || res.Source != FromGo || len(d.imported) != 1 {
			t.Fatalf("res %+v err %v", res, err)
		}
		im := d.imported[0]
		if im.platform != "linux/arm64" || im.files["router"] == 0 || !contains(im.changes, `ENTRYPOINT ["/router"]`) {
			t.Fatalf("import %+v", im)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCompiledRouterForwards builds the standalone router with the Go toolchain, as the
// go source does, and checks it forwards a connection to its target and back.
func TestCompiledRouterForwards(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the router is a Linux program")
	}
	goBin, err := GoTool()
	if err != nil {
		t.Skip("no Go toolchain: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := Compile(ctx, goBin, runtime.GOARCH, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	target, _ := testutil.EchoServer(t)
	port := freePort(t)
	cmd := exec.CommandContext(ctx, bin, port+"="+target)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	expectEcho(t, "127.0.0.1:"+port, func() string { return stderr.String() })
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// expectEcho connects to addr (retrying while the router starts), writes a line, closes its
// write side and expects the line back.
func expectEcho(t *testing.T, addr string, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_, _ = c.Write([]byte("hello router\n"))
			_ = c.(*net.TCPConn).CloseWrite()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != "hello router\n" {
				t.Fatalf("through the router: %q, %v (router: %s)", got, err, logs())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("router does not listen on %s: %v (router: %s)", addr, err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
