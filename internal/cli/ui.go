package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/ui"
)

// UIOptions are the flags of `clocal ui`.
type UIOptions struct {
	IO      *IOStreams
	F       *Factory
	Targets []string
	Page    pageFlags
}

// pageFlags are the status page's flags, shared by `ui` and `up --watch --ui`.
type pageFlags struct {
	Addr    string
	Open    bool
	Timeout time.Duration
}

func (p *pageFlags) register(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&p.Addr, prefix+"addr", "", "address of the status page (default: 127.0.0.1 on a free port; loopback only)")
	fs.BoolVar(&p.Open, prefix+"open", false, "open the status page in the browser")
}

// NewCmdUI creates `clocal ui [TARGET...]`.
func NewCmdUI(f *Factory, runF func(context.Context, *UIOptions) error) *cobra.Command {
	o := &UIOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "ui [TARGET...]",
		Short: "Serve a live status page of the running stack in the browser",
		Long: `Serve a status page of the stack on 127.0.0.1 and print its URL (with its access token)
as the first line of output. The page shows every service with its state, health,
addresses, image, last build and restarts, the dependency graph, the logs (several
services multiplexed, searchable) and the dev loop's events, live. Its buttons restart,
rebuild, stop and start a service the way the CLI does (project lock, health wait,
rollback of an unhealthy rebuild). TARGET defaults to the targets the stack was started
with. Ctrl-C stops the page; the stack keeps running.`,
		Example: `  clocal ui
  clocal ui --open
  clocal up repo-manager --watch --ui   # the stack, the dev loop and the page in one`,
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUI(cmd.Context(), o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	o.Page.register(cmd.Flags(), "")
	durationFlag(cmd.Flags(), &o.Page.Timeout, "timeout", "", 5*time.Minute, "how long an action waits for health")
	return cmd
}

// page is a status page whose URL is printed and which serves once a source is attached.
type page struct {
	io *IOStreams
	// alone: the process serves only the page (clocal ui), not a watch.
	alone bool
	ln    net.Listener
	srv   *ui.Server
	open  bool
	url   string
	tok   string
}

// listenPage opens the page's port and prints its URL as the first line of output, before
// anything else is printed or started.
func listenPage(io *IOStreams, p pageFlags) (*page, error) {
	ln, err := ui.Listen(p.Addr)
	if err != nil {
		var ae *net.OpError
		if errors.As(err, &ae) {
			return nil, &ExitError{Code: ExitFailure, Err: fmt.Errorf("status page: %w (choose another --addr)", err)}
		}
		return nil, BadInput(err)
	}
	token := ui.NewToken()
	pg := &page{io: io, ln: ln, open: p.Open, url: "http://" + ln.Addr().String() + "/?token=" + token, tok: token}
	fmt.Fprintln(io.Out, pg.url)
	return pg, nil
}

// serve runs the page for src until ctx ends.
func (p *page) serve(ctx context.Context, src ui.Source) error {
	p.srv = ui.New(src, ui.Options{Token: p.tok, ReleaseMemory: p.alone})
	if p.open {
		if err := openBrowser(p.url); err != nil {
			fmt.Fprintf(p.io.ErrOut, "warning: could not open a browser (%v); open %s\n", err, p.url)
		}
	}
	return p.srv.Serve(ctx, p.ln)
}

func (p *page) close() { _ = p.ln.Close() }

// openBrowser opens url with $BROWSER or the platform's opener, without waiting.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch {
	case os.Getenv("BROWSER") != "":
		cmd = exec.Command(os.Getenv("BROWSER"), url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

func runUI(ctx context.Context, o *UIOptions) error {
	pg, err := listenPage(o.IO, o.Page)
	if err != nil {
		return err
	}
	defer pg.close()
	pg.alone = true
	st, err := o.F.targetStack(ctx, o.Targets)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	if _, ok := st.LoadState(); !ok && len(o.Targets) == 0 {
		return BadInputf("no running stack %s to show: name a target (clocal ui TARGET) or start one with clocal up TARGET --watch --ui", st.Name)
	}
	src := ui.NewStackSource(st, ui.StackOptions{Targets: o.Targets, WaitTimeout: o.Page.Timeout})
	fmt.Fprintf(o.IO.ErrOut, "status page of %s on %s (Ctrl-C to stop; the stack keeps running)\n", st.Name, pg.ln.Addr())
	if err := pg.serve(ctx, src); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return context.Canceled
	}
	return nil
}

// startPage serves the page of st (up --watch --ui) in the background until ctx ends; the
// returned source gets the watch's dev loop once it runs.
func startPage(ctx context.Context, pg *page, st *stack.Stack, targets []string, timeout time.Duration) *ui.StackSource {
	src := ui.NewStackSource(st, ui.StackOptions{Targets: targets, WaitTimeout: timeout, External: true})
	go func() {
		if err := pg.serve(ctx, src); err != nil && ctx.Err() == nil {
			fmt.Fprintf(pg.io.ErrOut, "status page: %v\n", err)
		}
	}()
	return src
}
