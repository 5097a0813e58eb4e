package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/version"
)

// VersionOptions are the flags of `clocal version` (and `clocal --version`).
type VersionOptions struct {
	IO   *IOStreams
	F    *Factory
	JSON bool
}

// NewCmdVersion creates `clocal version`.
func NewCmdVersion(f *Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	o := &VersionOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show clocal's version, the embedded compose library's and the Docker engine's",
		Long: `Show clocal's version (from the build information of the binary: module version, VCS
commit), the version of the Docker Compose library clocal embeds, and, when the daemon
answers, the Docker engine's version and API version. The daemon being unreachable is
shown, not an error. clocal --version prints the same.`,
		Example: "  clocal version\n  clocal version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runVersion(cmd.Context(), o)
		},
	}
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

// versionJSON is `clocal version --json`.
type versionJSON struct {
	version.Info
	Engine engineVersion `json:"engine"`
}

type engineVersion struct {
	Reachable     bool   `json:"reachable"`
	Version       string `json:"version,omitempty"`
	APIVersion    string `json:"api_version,omitempty"`
	MinAPIVersion string `json:"min_api_version,omitempty"`
	ClientAPI     string `json:"client_api_version,omitempty"` // negotiated
	OS            string `json:"os,omitempty"`
	Arch          string `json:"arch,omitempty"`
	Error         string `json:"error,omitempty"`
}

func runVersion(ctx context.Context, o *VersionOptions) error {
	out := versionJSON{Info: version.Get(), Engine: daemonVersion(ctx, o.F)}
	if o.JSON {
		return writeJSON(o.IO.Out, out)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	v := out.Info
	build := v.Go + " " + v.Platform
	if v.Commit != "" {
		c := "commit " + v.Commit
		if len(v.Commit) > 12 {
			c = "commit " + v.Commit[:12]
		}
		if v.Modified {
			c += "+changes"
		}
		if v.CommitTime != "" {
			c += " " + v.CommitTime
		}
		build = c + ", " + build
	}
	fmt.Fprintf(tw, "clocal:\t%s\t(%s)\n", v.Clocal, build)
	compose := v.Compose + "\t(embedded library"
	if v.ComposeGo != "" {
		compose += ", compose-go " + v.ComposeGo
	}
	fmt.Fprintf(tw, "compose:\t%s)\n", compose)
	e := out.Engine
	if e.Reachable {
		fmt.Fprintf(tw, "engine:\t%s\t(API %s, client API %s, %s/%s)\n", e.Version, e.APIVersion, e.ClientAPI, e.OS, e.Arch)
	} else {
		fmt.Fprintf(tw, "engine:\tunreachable\t(%s)\n", redactMessage(e.Error))
	}
	return tw.Flush()
}

// daemonVersion asks the daemon clocal would use for its version, within a few seconds.
func daemonVersion(ctx context.Context, f *Factory) engineVersion {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	docker, err := f.NewDocker(ctx)
	if err != nil {
		return engineVersion{Error: firstLine(err.Error())}
	}
	defer docker.Close()
	sv, err := docker.ServerVersion(ctx)
	if err != nil {
		return engineVersion{Error: firstLine(err.Error())}
	}
	return engineVersion{Reachable: true, Version: sv.Version, APIVersion: sv.APIVersion, MinAPIVersion: sv.MinAPIVersion,
		ClientAPI: docker.ClientVersion(), OS: sv.Os, Arch: sv.Arch}
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
