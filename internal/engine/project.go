package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v2/pkg/api"
)

// composeVersion is written into com.docker.compose.version. The compose library leaves
// it empty unless its internal.Version is set at link time.
const composeVersion = "2.40.3"

func init() {
	if api.ComposeVersion == "" {
		api.ComposeVersion = composeVersion
	}
}

// LoadProject loads compose YAML through compose-go's loader (normalisation, default
// network, interpolation with an empty environment: write a literal `$` as `$$`) under
// the given project name, and sets compose's labels ([SetComposeLabels]). workdir is the
// folder relative paths are resolved against; the YAML is not read from disk.
func LoadProject(ctx context.Context, name, workdir string, yaml []byte) (*types.Project, error) {
	if workdir == "" {
		return nil, fmt.Errorf("load project %s: empty working directory", name)
	}
	abs, err := filepath.Abs(workdir)
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", name, err)
	}
	details := types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, "compose.yaml"), Content: yaml}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
	})
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", name, err)
	}
	SetComposeLabels(p)
	return p, nil
}

// SetComposeLabels sets on every service the CustomLabels compose uses to find its
// containers (project, service, version, working dir, config files, one-off=False),
// exactly as `docker compose` does when it loads a project. Other custom labels are kept.
func SetComposeLabels(p *types.Project) {
	if p == nil {
		return
	}
	for name, s := range p.Services {
		s.CustomLabels = withComposeLabels(p, name, s.CustomLabels)
		p.Services[name] = s
	}
	for name, s := range p.DisabledServices {
		s.CustomLabels = withComposeLabels(p, name, s.CustomLabels)
		p.DisabledServices[name] = s
	}
}

func withComposeLabels(p *types.Project, service string, existing types.Labels) types.Labels {
	l := types.Labels{}
	for k, v := range existing {
		l[k] = v
	}
	l[api.ProjectLabel] = p.Name
	l[api.ServiceLabel] = service
	l[api.VersionLabel] = api.ComposeVersion
	l[api.WorkingDirLabel] = p.WorkingDir
	l[api.ConfigFilesLabel] = strings.Join(p.ComposeFiles, ",")
	l[api.OneoffLabel] = "False"
	return l
}
