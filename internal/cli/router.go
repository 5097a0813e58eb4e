package cli

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/routerimage"
)

// NewCmdRouter creates `clocal router`, the router image's commands.
func NewCmdRouter(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "router",
		Short: "Manage clocal's router image (for production hosts whose jobs run apart locally)",
		Long: `A production host whose jobs run in several network namespaces locally gets a router
service (router-<host>) carrying the host name and forwarding each port. Its image is made
once per Docker daemon: from router_image (clocal.yaml), from this clocal executable when it
is a static Linux one, or with a Go toolchain. "clocal router push" makes a registry copy
for the machines that can do neither.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdRouterPush(f, nil))
	return cmd
}

// RouterPushOptions are the flags of `clocal router push`.
type RouterPushOptions struct {
	IO   *IOStreams
	F    *Factory
	Ref  string
	JSON bool
}

// NewCmdRouterPush creates `clocal router push REF`.
func NewCmdRouterPush(f *Factory, runF func(context.Context, *RouterPushOptions) error) *cobra.Command {
	o := &RouterPushOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "push REF",
		Short: "Push clocal's router image to a registry, for router_image",
		Long: `Make clocal's router image on this Docker daemon (already there, from this clocal
executable when it is a static Linux one, or with the Go toolchain) and push it to REF with
your Docker credentials (docker login). A REF without a tag gets the router's code hash as
its tag, the one clocal asks for: put the repository into clocal.yaml as router_image and
every machine pulls the router that matches its clocal.

The image is for this daemon's architecture: teams with amd64 and arm64 laptops push from
one machine of each to two tags and combine them (docker manifest create), or set
router_image per machine in clocal.local.yaml.`,
		Example:           "  clocal router push registry.company/tools/clocal-router",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := reference.ParseNormalizedNamed(args[0]); err != nil {
				return BadInputf("%q is not an image reference (want REGISTRY/PATH/NAME, optionally :TAG): %v", args[0], err)
			}
			o.Ref = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRouterPush(cmd.Context(), o)
		},
	}
	addJSONFlag(cmd, &o.JSON)
	return cmd
}

func runRouterPush(ctx context.Context, o *RouterPushOptions) error {
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	opts := routerimage.Options{Docker: docker, Executable: o.F.RouterExecutable}
	if !o.IO.Quiet {
		opts.Out = o.IO.ErrOut
	}
	res, err := routerimage.Push(ctx, opts, registry.DockerAuth(), o.Ref)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.IO.Out, res)
	}
	how := map[routerimage.Source]string{
		routerimage.FromDaemon:     "already on the daemon",
		routerimage.FromExecutable: "made from this clocal executable",
		routerimage.FromGo:         "compiled with " + res.From,
		routerimage.FromBuildHost:  "copied from the build host",
	}[res.Source]
	fmt.Fprintf(o.IO.Out, "pushed %s (%s, %s) as %s@%s\n", res.Image, res.Platform, how, res.Ref, res.Digest)
	fmt.Fprintf(o.IO.Out, "use it in clocal.yaml: router_image: %s\n", res.RouterImage)
	return nil
}
