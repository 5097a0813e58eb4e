package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/registry"
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
	Latest  bool
	Timeout time.Duration
}

// NewCmdUpdate creates `clocal update SERVICE`.
func NewCmdUpdate(f *Factory, runF func(context.Context, *UpdateOptions) error) *cobra.Command {
	o := &UpdateOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "update SERVICE",
		Short: "Switch a service to another image (registry tag or local build), rolling back if it is unhealthy",
		Long: `List the images SERVICE can run, newest first: the tags of its production image's
repository in the registry (with the credentials of your Docker config: docker login) and
the images clocal built from this workspace (with their source revision), marking the one
that runs now, the pinned one and the latest build. Pick one (or --to TAG): it is pulled,
the container is replaced, clocal waits for it to be healthy and rolls back to the previous
image when it is not.

The chosen image is pinned: up, watch and restart keep running it (no rebuild) until
clocal update SERVICE --latest, which runs your sources (or the production image) again.
ps and inspect show the pin. update takes the project lock, like up.`,
		Example: `  clocal update repo-manager
  clocal update repo-manager --list
  clocal update repo-manager --list --json
  clocal update repo-manager --to 1.4.2
  clocal update repo-manager --to 3f2a9c1d0b7e
  clocal update repo-manager --latest`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeService(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			if o.Latest && (o.To != "" || o.List) {
				return BadInputf("--latest cannot be combined with --to or --list")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUpdate(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "image to switch to: a registry tag, a local build's tag (or its start), or a full reference")
	_ = cmd.RegisterFlagCompletionFunc("to", completeImageTags(f))
	cmd.Flags().BoolVar(&o.List, "list", false, "only list the images")
	cmd.Flags().BoolVar(&o.Latest, "latest", false, "unpin: run the build of your current sources (or the production image) again")
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
	setPull(o.IO, st, registry.PullMissing)
	u := &update.Updater{Stack: st, Timeout: o.Timeout, Out: o.IO.ErrOut, Listers: update.ForStack(st), Prepare: update.Pull(st)}
	if o.Latest {
		res, err := u.Latest(ctx, service)
		if o.JSON {
			if jerr := writeJSON(o.IO.Out, res); jerr != nil {
				return jerr
			}
		}
		if err == nil && !o.JSON {
			fmt.Fprintf(o.IO.ErrOut, "%s: unpinned, runs %s\n", service, res.To)
		}
		return updateError(ctx, err)
	}
	status, err := u.Status(ctx, service)
	if err != nil {
		return err
	}
	for _, w := range status.Warnings {
		fmt.Fprintf(o.IO.ErrOut, "warning: %s\n", w)
	}
	if len(status.Candidates) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no images of %s: its registry lists none and clocal built none here (clocal up %s builds one)", service, service)}
	}
	if o.List {
		if o.JSON {
			return writeJSON(o.IO.Out, status)
		}
		printImages(o.IO.Out, status.Candidates)
		return nil
	}
	if !o.JSON && o.To == "" {
		printImages(o.IO.ErrOut, status.Candidates)
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
	if err == nil && !o.JSON {
		if res.Changed {
			fmt.Fprintf(o.IO.ErrOut, "%s: now running %s (healthy)\n", service, chosen.Ref)
		} else {
			fmt.Fprintf(o.IO.ErrOut, "%s already runs %s\n", service, chosen.Ref)
		}
		fmt.Fprintf(o.IO.ErrOut, "%s: pinned to %s: up, watch and restart keep it (clocal update %s --latest follows your sources again)\n", service, chosen.Ref, service)
	}
	return updateError(ctx, err)
}

// updateError maps update's failures to exit statuses: Ctrl-C is an interruption, the rest
// (a roll back, a service that is not running, a failed pull) a runtime failure.
func updateError(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return context.Canceled
	case errors.Is(err, update.ErrNotRunning):
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

func printImages(w io.Writer, imgs []update.Candidate) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTAG\tFROM\tCREATED\tSOURCE REV\t")
	for i, im := range imgs {
		from := "local build"
		if im.Origin == update.OriginRegistry {
			from = im.Repository
		}
		created := "-"
		if !im.BuiltAt.IsZero() {
			created = im.BuiltAt.Local().Format("2006-01-02 15:04:05")
		}
		rev := im.Rev
		if rev == "" {
			rev = "-"
		}
		var marks []string
		if im.Running {
			marks = append(marks, "<- running")
		}
		if im.Pinned {
			marks = append(marks, "pinned")
		}
		switch {
		case im.Latest && im.Origin == update.OriginRegistry:
			marks = append(marks, "production image")
		case im.Latest:
			marks = append(marks, "latest build")
		}
		if im.Err != "" {
			marks = append(marks, "("+im.Err+")")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, im.Tag, from, created, rev, strings.Join(marks, ", "))
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
