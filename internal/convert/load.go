package convert

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/version"
)

// ConfigFileName is the name the YAML is loaded under (relative to the working dir) unless
// WithConfigFile names the file it was written to.
const ConfigFileName = "compose.clocal.yaml"

// LoadOption changes how Load loads.
type LoadOption func(*loadOptions)

type loadOptions struct{ file string }

// WithConfigFile names the file the YAML was written to, so that compose's config-files
// label points at a real file (the stack writes its project to its state folder first).
func WithConfigFile(path string) LoadOption { return func(o *loadOptions) { o.file = path } }

// Load is clocal's one compose loader: it loads compose YAML (as written by convert, or by a
// test) through compose-go's loader (normalisation, default network, interpolation with an
// empty environment: convert writes every literal `$` as `$$`) as project projectName, with
// workingDir as the project directory (relative paths resolve against it; the YAML is not
// read from disk), and sets on every service the CustomLabels compose sets on the
// containers it creates (labels.Compose). Other custom labels are kept.
func Load(ctx context.Context, yaml []byte, projectName, workingDir string, opts ...LoadOption) (*types.Project, error) {
	var o loadOptions
	for _, f := range opts {
		f(&o)
	}
	if workingDir == "" {
		return nil, fmt.Errorf("load compose project %s: empty working directory", projectName)
	}
	wd, err := filepath.Abs(workingDir)
	if err != nil {
		return nil, fmt.Errorf("load compose project %s: %w", projectName, err)
	}
	configFile := o.file
	if configFile == "" {
		configFile = filepath.Join(wd, ConfigFileName)
	}
	details := types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: configFile, Content: yaml}},
		Environment: types.Mapping{},
	}
	project, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(projectName, true)
	})
	if err != nil {
		return nil, fmt.Errorf("load compose project %s: %w", projectName, err)
	}
	// compose-go leaves ComposeFiles empty for in-memory content; compose's config-files
	// label is derived from it.
	project.ComposeFiles = []string{configFile}
	SetComposeLabels(project)
	return project, nil
}

// SetComposeLabels sets compose's bookkeeping labels (labels.Compose) on every service of p,
// keeping other custom labels.
func SetComposeLabels(p *types.Project) {
	if p == nil {
		return
	}
	set := func(name string, s types.ServiceConfig) types.ServiceConfig {
		l := types.Labels{}
		for k, v := range s.CustomLabels {
			l[k] = v
		}
		for k, v := range labels.Compose(p.Name, name, p.WorkingDir, p.ComposeFiles, version.Compose()) {
			l[k] = v
		}
		s.CustomLabels = l
		return s
	}
	for name, s := range p.Services {
		p.Services[name] = set(name, s)
	}
	for name, s := range p.DisabledServices {
		p.DisabledServices[name] = set(name, s)
	}
}
