package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/stack/update"
)

// UpdateOptions are the flags of `clocal update`.
type UpdateOptions struct {
	IO      *IOStreams
	F       *Factory
	Service string
	To      string
	List    bool
	JSON    bool
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
  clocal update repo-manager --list --json`,
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
	cmd.Flags().StringVar(&o.To, "to", "", "image tag (or a unique prefix, or the full reference) to switch to")
	cmd.Flags().BoolVar(&o.List, "list", false, "only list the images")
	addJSONFlag(cmd, &o.JSON)
	durationFlag(cmd.Flags(), &o.Timeout, "timeout", "", 2*time.Minute, "how long to wait for health before rolling back")
	return cmd
}

func runUpdate(ctx context.Context, o *UpdateOptions) error {
	service, st, err := o.F.serviceStack(ctx, o.Service)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	u := &update.Updater{Stack: st, Timeout: o.Timeout, Out: o.IO.ErrOut}
	status, err := u.Status(ctx, service)
	if err != nil {
		return err
	}
	if len(status.Candidates) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no local images of %s: build one with clocal up %s", service, service)}
	}
	if o.List {
		if o.JSON {
			return writeJSON(o.IO.Out, status)
		}
		printImages(o.IO, status.Candidates)
		return nil
	}
	if !o.JSON {
		printImages(o.IO, status.Candidates)
	}
	if status.Running == "" {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not running in %s: start it with clocal up %s", service, st.Name, service)}
	}
	target := o.To
	if target == "" {
		if !o.IO.IsTerminal() || o.JSON {
			return BadInputf("pick an image with --to TAG (no terminal to ask on)")
		}
		if target, err = pickImage(o.IO, status.Candidates); err != nil {
			return err
		}
	}
	chosen, err := update.Choose(status.Candidates, target)
	if err != nil {
		return BadInputf("%v of %s (see clocal update %s --list)", err, service, service)
	}
	res, err := u.Switch(ctx, service, chosen)
	if o.JSON {
		if jerr := writeJSON(o.IO.Out, res); jerr != nil {
			return jerr
		}
	}
	switch {
	case err == nil && !res.Changed:
		if !o.JSON {
			fmt.Fprintf(o.IO.ErrOut, "%s already runs %s\n", service, chosen.Ref)
		}
		return nil
	case err == nil:
		if !o.JSON {
			fmt.Fprintf(o.IO.ErrOut, "%s: now running %s (healthy)\n", service, chosen.Ref)
		}
		return nil
	case ctx.Err() != nil:
		return context.Canceled
	case errors.Is(err, update.ErrNotRunning):
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

func printImages(io *IOStreams, imgs []update.Candidate) {
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

func pickImage(io *IOStreams, imgs []update.Candidate) (string, error) {
	fmt.Fprintf(io.ErrOut, "pick an image [1-%d]: ", len(imgs))
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return "", BadInputf("no image picked")
	}
	n, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || n < 1 || n > len(imgs) {
		return "", BadInputf("invalid choice %q", strings.TrimSpace(line))
	}
	return imgs[n-1].Ref, nil
}
