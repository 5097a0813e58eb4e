package engine

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadProjectFile is LoadProject with the name of the file the YAML was written to, so that
// compose's config-files label points at a real file (clocal writes the generated project
// to its state folder before loading it).
func LoadProjectFile(ctx context.Context, name, workdir, filename string, yaml []byte) (*types.Project, error) {
	abs, err := filepath.Abs(workdir)
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", name, err)
	}
	details := types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filename, Content: yaml}},
		Environment: types.Mapping{},
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(name, true)
	})
	if err != nil {
		return nil, fmt.Errorf("load project %s: %w", name, err)
	}
	// compose-go leaves ComposeFiles empty for in-memory content; compose's config-files
	// label is derived from it.
	p.ComposeFiles = []string{filename}
	SetComposeLabels(p)
	return p, nil
}
