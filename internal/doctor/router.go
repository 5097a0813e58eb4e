package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/routerimage"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// checkRouter says, when the target has routers (production hosts whose jobs run apart
// locally), where up gets their image from, or that it cannot be had here and what to do
// (routerimage.Probe: nothing is made).
func checkRouter(ctx context.Context, e Env, sel *workspace.Selection) []Finding {
	if e.Docker == nil {
		return nil
	}
	plan, err := convert.FromWorkspace(e.WS, sel, convert.Options{PortTaken: func(int) bool { return false }})
	if err != nil || len(plan.Routers) == 0 {
		return nil // a model error is the config check's
	}
	names := make([]string, len(plan.Routers))
	for i, r := range plan.Routers {
		names[i] = r.Name
	}
	who := strings.Join(names[:min(len(names), 3)], ", ")
	if len(names) > 3 {
		who += fmt.Sprintf(" and %d more", len(names)-3)
	}
	remote := e.Remote
	if remote == nil {
		remote = &registry.Remote{Auth: registry.DockerAuth(), Insecure: registry.InsecureFromDaemon(e.Docker)}
	}
	o := routerimage.Options{Docker: e.Docker, For: names, RegistryImage: e.WS.RouterImage(), Executable: e.RouterExecutable,
		GoTool: e.GoTool,
		Pull: func(ctx context.Context, ref string) error {
			if _, err := e.Docker.ImageInspect(ctx, ref); err == nil {
				return nil
			}
			_, err := remote.Digest(ctx, ref)
			return err
		}}
	if e.BuildDocker != nil {
		o.Copy = func(ctx context.Context, ref string) (bool, error) {
			_, err := e.BuildDocker.ImageInspect(ctx, ref)
			return err == nil, nil
		}
	}
	res, err := routerimage.Probe(ctx, o)
	if err != nil {
		f := Finding{Check: "router", Severity: Blocker, Message: err.Error(), Fix: "clocal router push REGISTRY/PATH/clocal-router on a machine with Go, then router_image: REGISTRY/PATH/clocal-router in clocal.yaml"}
		var ue *routerimage.UnavailableError
		if errors.As(err, &ue) {
			f.Message = ue.Problem()
			if fix := ue.Fix(); fix != "" {
				f.Fix = fix
			}
		}
		return []Finding{f}
	}
	how := map[routerimage.Source]string{
		routerimage.FromDaemon:     "present" + e.on(),
		routerimage.FromBuildHost:  "clocal up copies it from this machine's daemon",
		routerimage.FromRegistry:   "clocal up pulls it from router_image " + res.From,
		routerimage.FromExecutable: "clocal up makes it from this clocal executable",
		routerimage.FromGo:         "clocal up compiles it with " + res.From,
	}[res.Source]
	return []Finding{{Check: "router", Severity: OK, Message: fmt.Sprintf("router image %s for %s: %s", res.Image, who, how)}}
}
