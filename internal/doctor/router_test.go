package doctor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/pause"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/router"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// routerDaemon is a daemon of this machine's architecture holding the given images.
type routerDaemon struct {
	client.APIClient
	images map[string]bool
}

func (d routerDaemon) Info(context.Context) (system.Info, error) {
	return system.Info{Architecture: map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]}, nil
}

func (d routerDaemon) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if d.images[ref] {
		return image.InspectResponse{Os: "linux", Architecture: runtime.GOARCH}, nil
	}
	return image.InspectResponse{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

// TestRouterCheck: doctor says where up gets the router image from, in up's order, or that
// it cannot be had here and how to fix it; nothing is made.
func TestRouterCheck(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	pushed := reg.Push(t, cli, testutil.TestServerImage(t), "tools/clocal-router:"+router.Hash())
	exe, err := pause.Executable(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	static := filepath.Join(t.TempDir(), "clocal")
	if err := os.WriteFile(static, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	noGo := func() (string, error) { return "", errors.New("no go command on PATH or in GOROOT") }
	withGo := func() (string, error) { return "/opt/go/bin/go", nil }
	remote := &registry.Remote{Insecure: func(string) bool { return true }}
	check := func(routerImage string, daemon routerDaemon, exe string, goTool func() (string, error)) Finding {
		t.Helper()
		cfg := "name: rt\n"
		if routerImage != "" {
			cfg += "router_image: " + routerImage + "\n"
		}
		// alpha and beta share production host h1 but nothing joins them: router-h1
		root := testutil.WriteFiles(t, t.TempDir(), map[string]string{
			"clocal.yaml":           cfg,
			"services/alpha/a.job":  `job { name: "alpha-1" image: "alpha:1" run_on_host: "h1" envs { key: "PORT" value: "8080" } }`,
			"services/beta/b.job":   `job { name: "beta-1" image: "beta:1" run_on_host: "h1" envs { key: "PORT" value: "9090" } }`,
			"services/client/c.job": `job { name: "client-1" image: "client:1" run_on_host: "h2" envs { key: "a_addr" value: "h1:8080" } }`,
		})
		ws := load(t, root)
		sel, err := ws.Resolve([]string{"client", "alpha", "beta"})
		if err != nil {
			t.Fatal(err)
		}
		fs := checkRouter(context.Background(), Env{WS: ws, Docker: daemon, Remote: remote, RouterExecutable: exe, GoTool: goTool}, sel)
		if len(fs) != 1 {
			t.Fatalf("router findings: %+v", fs)
		}
		return fs[0]
	}
	empty := routerDaemon{images: map[string]bool{}}
	for _, c := range []struct {
		name        string
		routerImage string
		daemon      routerDaemon
		exe         string
		goTool      func() (string, error)
		severity    Severity
		want, fix   string
	}{
		{"present", "", routerDaemon{images: map[string]bool{router.Image: true}}, "", noGo, OK, "router image " + router.Image + " for router-h1: present", ""},
		{"router_image first", strings.TrimSuffix(pushed, ":"+router.Hash()), empty, static, withGo, OK, "clocal up pulls it from router_image " + pushed, ""},
		{"executable", "", empty, static, withGo, OK, "clocal up makes it from this clocal executable", ""},
		{"go", "", empty, "", withGo, OK, "clocal up compiles it with /opt/go/bin/go", ""},
		{"nothing", "", empty, "", noGo, Blocker, "router-h1 (production hosts whose jobs run apart here) needs clocal's router image", "clocal router push"},
		{"router_image not there", reg.Ref("tools/none"), empty, "", noGo, Blocker, "router_image did not work", "clocal router push"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := check(c.routerImage, c.daemon, c.exe, c.goTool)
			if f.Severity != c.severity || !strings.Contains(f.Message, c.want) || !strings.Contains(f.Fix, c.fix) {
				t.Fatalf("finding %+v, want %v %q (fix %q)", f, c.severity, c.want, c.fix)
			}
		})
	}
}
