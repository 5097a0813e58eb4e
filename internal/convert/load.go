package convert

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// Compose labels, with the values of github.com/docker/compose/v2/pkg/api (not imported here:
// that package pulls the whole compose library; a test checks the values match).
const (
	ProjectLabel     = "com.docker.compose.project"
	ServiceLabel     = "com.docker.compose.service"
	VersionLabel     = "com.docker.compose.version"
	WorkingDirLabel  = "com.docker.compose.project.working_dir"
	ConfigFilesLabel = "com.docker.compose.project.config_files"
	OneoffLabel      = "com.docker.compose.oneoff"
)

// ConfigFileName is the name the YAML is loaded under (relative to the working dir).
const ConfigFileName = "compose.clocal.yaml"

// ComposeVersion is the version of the compose library clocal is built with ("2.40.3"), as
// written in VersionLabel; "" when the build info does not say.
var ComposeVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/docker/compose/v2" {
				v := m.Version
				if m.Replace != nil {
					v = m.Replace.Version
				}
				return strings.TrimPrefix(v, "v")
			}
		}
	}
	return ""
}()

// Load loads compose YAML (as written by convert) through compose-go, as project projectName
// with workingDir as the project directory (relative paths in the YAML resolve against it), and
// sets the labels compose sets on containers it creates (CustomLabels) on every service.
// No environment is read: convert escapes every '$', so nothing is interpolated.
func Load(ctx context.Context, yaml []byte, projectName, workingDir string) (*types.Project, error) {
	wd, err := filepath.Abs(workingDir)
	if err != nil {
		return nil, fmt.Errorf("load compose project: %w", err)
	}
	configFile := filepath.Join(wd, ConfigFileName)
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
	if len(project.ComposeFiles) == 0 {
		project.ComposeFiles = []string{configFile} // the loader leaves it to compose's cli
	}
	for name, s := range project.Services {
		s.CustomLabels = map[string]string{
			ProjectLabel:     project.Name,
			ServiceLabel:     name,
			VersionLabel:     ComposeVersion,
			WorkingDirLabel:  project.WorkingDir,
			ConfigFilesLabel: strings.Join(project.ComposeFiles, ","),
			OneoffLabel:      "False",
		}
		project.Services[name] = s
	}
	return project, nil
}
