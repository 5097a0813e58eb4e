package cli

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack"
)

// UpdateOptions are the flags of `clocal update`.
type UpdateOptions struct {
	IO      *IOStreams
	F       *Factory
	Service string
	To      string
	List    bool
	Timeout time.Duration
}

// NewCmdUpdate creates `clocal update SERVICE`.
func NewCmdUpdate(f *Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	o := &UpdateOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "update SERVICE",
		Short: "Switch a service to another of its local images, rolling back if it is unhealthy",
		Long: `List the service's local images built from this workspace (tag, build time, source
revision when the source is a git checkout, which one runs now),
let you pick one (or --to TAG), replace the container, wait for health, and roll back to
the previous image automatically when the new one does not become healthy.`,
		Example: `  clocal update repo-manager
  clocal update repo-manager --to 3f2a9c1d0b7e
  clocal update repo-manager --list`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUpdate(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "image tag (or full reference) to switch to")
	cmd.Flags().BoolVar(&o.List, "list", false, "only list the images")
	durationFlag(cmd.Flags(), &o.Timeout, "timeout", "", 2*time.Minute, "how long to wait for health before rolling back")
	return cmd
}

// ServiceImage is one local image of a service.
type ServiceImage struct {
	Ref     string
	Tag     string
	ID      string
	BuiltAt time.Time
	Rev     string
	Running bool
}

func listServiceImages(ctx context.Context, st *stack.Stack, service, running string) ([]ServiceImage, error) {
	imgs, err := st.Docker.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.clocal.service="+service))})
	if err != nil {
		return nil, err
	}
	var out []ServiceImage
	for _, im := range imgs {
		// Images another checkout built (other sources) are not this stack's to switch to.
		if w, ok := im.Labels["dev.clocal.workspace"]; ok && w != st.WS.Root && im.ID != running && !isRef(im.RepoTags, running) {
			continue
		}
		for _, ref := range im.RepoTags {
			if !strings.HasPrefix(ref, "clocal/"+service+":") {
				continue
			}
			si := ServiceImage{Ref: ref, Tag: strings.TrimPrefix(ref, "clocal/"+service+":"), ID: im.ID, Rev: im.Labels["dev.clocal.source-rev"]}
			if t, err := time.Parse(time.RFC3339, im.Labels["dev.clocal.built-at"]); err == nil {
				si.BuiltAt = t
			} else {
				si.BuiltAt = time.Unix(im.Created, 0)
			}
			si.Running = ref == running || im.ID == running
			out = append(out, si)
		}
	}
	// Newest first; built-at has second resolution, so ties are broken by tag to keep the
	// numbering of the list stable between two runs.
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].BuiltAt.Equal(out[j].BuiltAt) {
			return out[i].BuiltAt.After(out[j].BuiltAt)
		}
		return out[i].Tag < out[j].Tag
	})
	return out, nil
}

func runUpdate(ctx context.Context, o *UpdateOptions) error {
	service, st, err := o.F.serviceStack(ctx, o.Service)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	ctrs, err := st.Engine.Ps(ctx, st.Name, engine.PsOptions{All: true})
	if err != nil {
		return err
	}
	current := map[string]string{}
	for _, c := range ctrs {
		current[c.Service] = c.Image
		// Keep the owner labels of test stacks (prune --stale relies on them).
		if c.Service == service {
			for _, k := range []string{stack.LabelOwnerPID, stack.LabelOwnerHost} {
				if v, ok := c.Labels[k]; ok {
					if st.Labels == nil {
						st.Labels = map[string]string{}
					}
					st.Labels[k] = v
				}
			}
		}
	}
	imgs, err := listServiceImages(ctx, st, service, current[service])
	if err != nil {
		return err
	}
	if len(imgs) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no local images of %s: build one with clocal up %s", service, service)}
	}
	printImages(o.IO, imgs)
	if o.List {
		return nil
	}
	if current[service] == "" {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not running in %s: start it with clocal up %s", service, st.Name, service)}
	}
	target := o.To
	if target == "" {
		if !o.IO.IsTerminal() {
			return BadInputf("pick an image with --to TAG (no terminal to ask on)")
		}
		target, err = pickImage(o.IO, imgs)
		if err != nil {
			return err
		}
	}
	var chosen *ServiceImage
	for i := range imgs {
		if imgs[i].Tag == target || imgs[i].Ref == target || strings.HasPrefix(imgs[i].Tag, target) {
			chosen = &imgs[i]
			break
		}
	}
	if chosen == nil {
		return BadInputf("no image %q of %s (see clocal update %s --list)", target, service, service)
	}
	if chosen.Running {
		fmt.Fprintf(o.IO.ErrOut, "%s already runs %s\n", service, chosen.Ref)
		return nil
	}
	_, sel, err := st.CurrentPlan()
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	// Publish ports the way the stack was started (an isolated stack keeps daemon-chosen
	// ports instead of suddenly claiming the fixed ones).
	if state, ok := st.LoadState(); ok {
		st.Convert.EphemeralPorts, st.Convert.BindAddress = state.EphemeralPorts, state.BindAddress
	}
	images := map[string]string{}
	for _, s := range sel.Services {
		if img := current[s]; strings.HasPrefix(img, "clocal/") {
			images[s] = img
		}
	}
	previous := current[service]
	images[service] = chosen.Ref
	p, _, err := st.Project(ctx, sel, images)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %s -> %s\n", service, previous, chosen.Ref)
	rerr := st.Engine.Replace(ctx, p, service, engine.ReplaceOptions{WaitTimeout: o.Timeout})
	if rerr == nil {
		fmt.Fprintf(o.IO.ErrOut, "%s: now running %s (healthy)\n", service, chosen.Ref)
		return nil
	}
	if ctx.Err() != nil {
		return context.Canceled
	}
	fmt.Fprintf(o.IO.ErrOut, "%s: %s did not become healthy: %v\nrolling back to %s\n", service, chosen.Ref, rerr, previous)
	images[service] = previous
	p, _, err = st.Project(ctx, sel, images)
	if err == nil {
		err = st.Engine.Replace(ctx, p, service, engine.ReplaceOptions{WaitTimeout: o.Timeout})
	}
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("roll back %s to %s failed: %w", service, previous, err)}
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("update of %s to %s failed and was rolled back to %s: %w", service, chosen.Ref, previous, rerr)}
}

func isRef(tags []string, ref string) bool {
	for _, t := range tags {
		if t == ref {
			return true
		}
	}
	return false
}

func printImages(io *IOStreams, imgs []ServiceImage) {
	tw := tabwriter.NewWriter(io.ErrOut, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTAG\tBUILT\tSOURCE REV\t")
	for i, im := range imgs {
		mark := ""
		if im.Running {
			mark = "<- running"
		}
		rev := im.Rev
		if rev == "" {
			rev = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, im.Tag, im.BuiltAt.Local().Format("2006-01-02 15:04:05"), rev, mark)
	}
	_ = tw.Flush()
}

func pickImage(io *IOStreams, imgs []ServiceImage) (string, error) {
	fmt.Fprintf(io.ErrOut, "pick an image [1-%d]: ", len(imgs))
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return "", BadInputf("no image picked")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(imgs) {
		return "", BadInputf("invalid choice %q", strings.TrimSpace(line))
	}
	return imgs[n-1].Tag, nil
}
