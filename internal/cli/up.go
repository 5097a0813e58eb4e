package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
)

// UpOptions are the flags of `clocal up`.
type UpOptions struct {
	IO          *IOStreams
	F           *Factory
	Targets     []string
	Wait        bool
	Timeout     time.Duration
	Build       bool
	Watch       bool
	DownOnExit  bool
	Isolated    bool
	JSON        bool
	Ephemeral   bool
	BindAddress string
	Recreate    bool
	Debounce    time.Duration
	// UI serves the status page while watching (implies Watch).
	UI   bool
	Page pageFlags
	Pull registry.Policy
}

// NewCmdUp creates `clocal up TARGET...`.
func NewCmdUp(f *Factory, runF func(context.Context, *UpOptions) error) *cobra.Command {
	o := &UpOptions{IO: f.IO, F: f}
	var profiles *profileFlag
	cmd := &cobra.Command{
		Use:   "up TARGET...",
		Short: "Build what changed and start a target and everything it depends on",
		Long: `Start TARGET (a profile, service, job or host name) and the transitive closure of its
dependencies on the local Docker daemon. Each service's production build.sh runs, then its
image is built — only when the content hash of its inputs changed. Images clocal does not
build (third-party services, base images of builds) are pulled first as --pull says, with
the credentials of your Docker config (docker login). clocal waits for the
services to be healthy and prints each one's URL on localhost. A second "up" with nothing
changed builds nothing and recreates nothing.`,
		Example: `  clocal up repo-manager
  clocal up blog --watch
  clocal up repo-manager --isolated --json   # for tests: unique project, free ports`,
		Args: func(cmd *cobra.Command, args []string) error {
			if profiles.given() {
				return nil
			}
			return cobra.MinimumNArgs(1)(cmd, args)
		},
		ValidArgsFunction: completeTargets(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Targets, err = profiles.targets(args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUp(cmd.Context(), o)
		},
	}
	profiles = addProfileFlag(f, cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.Wait, "wait", true, "wait until every service is healthy (--wait=false returns once started)")
	durationFlag(fl, &o.Timeout, "timeout", "", 5*time.Minute, "how long to wait for health")
	fl.BoolVar(&o.Build, "build", false, "rebuild images even when their content hash is unchanged")
	fl.BoolVar(&o.Watch, "watch", false, "then watch sources and rebuild and replace services on change")
	fl.BoolVar(&o.DownOnExit, "down", false, "with --watch: tear the stack down when watching stops")
	fl.BoolVar(&o.Isolated, "isolated", false, "use a new unique project name and free host ports (parallel test stacks)")
	fl.BoolVar(&o.JSON, "json", false, "print the project name and each service's address as JSON")
	fl.BoolVar(&o.Ephemeral, "ephemeral-ports", false, "publish on free host ports (picked once, kept when containers are recreated)")
	fl.StringVar(&o.BindAddress, "bind", "127.0.0.1", "host address ports are published on")
	fl.BoolVar(&o.Recreate, "force-recreate", false, "recreate containers even if nothing changed")
	debounceFlag(fl, &o.Debounce)
	fl.BoolVar(&o.UI, "ui", false, "serve the status page while watching (implies --watch; see clocal ui)")
	fl.StringVar(&o.Page.Addr, "ui-addr", "", "with --ui: address of the status page (default: 127.0.0.1 on a free port)")
	fl.BoolVar(&o.Page.Open, "open", false, "with --ui: open the status page in the browser")
	pullFlag(cmd, &o.Pull)
	return cmd
}

func runUp(ctx context.Context, o *UpOptions) error {
	var pg *page
	if o.UI || o.Page.Open || o.Page.Addr != "" {
		// The page's URL is the first line of output: the page then shows the stack
		// coming up.
		o.UI, o.Watch = true, true
		var err error
		if pg, err = listenPage(o.IO, o.Page); err != nil {
			return err
		}
		defer pg.close()
	}
	if o.Isolated {
		base, err := o.F.Project()
		if err != nil {
			return err
		}
		if o.F.ProjectName == "" {
			o.F.ProjectName = stack.UniqueName(base, "", 3)
		}
		o.Ephemeral = true
	}
	st, err := o.F.targetStack(ctx, o.Targets)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	st.Convert.EphemeralPorts = o.Ephemeral
	st.Convert.BindAddress = o.BindAddress
	var lo loopOptions
	if pg != nil {
		lo.Page = startPage(ctx, pg, st, o.Targets, o.Timeout)
	}
	setPull(o.IO, st, o.Pull)

	start := time.Now()
	endLive := o.F.liveBuilds(st)
	res, err := st.Up(ctx, o.Targets, stack.UpOptions{ForceBuild: o.Build, Wait: o.Wait, WaitTimeout: o.Timeout, Recreate: o.Recreate})
	endLive()
	if err != nil {
		if ctx.Err() != nil {
			cleanupInterrupted(st)
			return context.Canceled
		}
		return upError(err)
	}
	eps, err := st.Endpoints(ctx, res.Plan)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := writeUpJSON(o, st.Name, res, eps); err != nil {
			return err
		}
	} else {
		built := 0
		for _, b := range res.Builds {
			if b.Built {
				built++
			}
		}
		where := ""
		if res.Remote {
			where = " on " + res.Host
		}
		fmt.Fprintf(o.IO.ErrOut, "%s: %d services up%s (%d built) in %s\n", st.Name, len(res.Selection.Services), where, built, time.Since(start).Round(10*time.Millisecond))
		if len(res.Kept) > 0 {
			fmt.Fprintf(o.IO.ErrOut, "kept running: %s (started by an earlier up; clocal down removes the whole stack)\n", strings.Join(res.Kept, ", "))
		}
		printEndpoints(o.IO, eps)
	}
	if o.Watch {
		lo.JSON, lo.DownOnExit, lo.Timeout, lo.Debounce = o.JSON, o.DownOnExit, o.Timeout, o.Debounce
		return runWatchLoop(ctx, o.F, st, res.Targets, res, lo)
	}
	return nil
}

// upError turns build and engine failures into one clear message with the build's last lines.
func upError(err error) error {
	var se *build.ScriptError
	if errors.As(err, &se) {
		msg := se.Error()
		for _, l := range se.Tail {
			msg += "\n  " + l
		}
		return &ExitError{Code: ExitFailure, Err: errors.New(msg + "\nfix the build and run clocal up again; running containers were left untouched")}
	}
	var rm *convert.RemoteMountError
	if errors.As(err, &rm) {
		return BadInput(err)
	}
	var ie *build.ImageError
	if errors.As(err, &ie) {
		msg := ie.Error()
		for _, l := range ie.Tail {
			msg += "\n  " + l
		}
		return &ExitError{Code: ExitFailure, Err: errors.New(msg)}
	}
	if errors.Is(err, engine.ErrNotReady) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%w\nsee why with: clocal logs SERVICE", err)}
	}
	return err
}

// cleanupInterrupted removes containers an interrupted up created but never started, so the
// next up or down starts from a clean state.
func cleanupInterrupted(st *stack.Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.RemoveCreated(ctx); err != nil {
		fmt.Fprintf(st.Out, "warning: clean up after the interrupt: %v\n", err)
	}
	st.StopForwards()
}

type upJSON struct {
	Project  string                 `json:"project"`
	Services map[string]serviceJSON `json:"services"`
	// DockerHost is the daemon the stack runs on when it is another machine (the
	// addresses are this machine's ends of port forwards to it); Copied lists the images
	// copied there from this machine's daemon by this up.
	DockerHost    string   `json:"docker_host,omitempty"`
	DockerContext string   `json:"docker_context,omitempty"` // the docker context naming it
	Copied        []string `json:"copied,omitempty"`
}

type serviceJSON struct {
	URL       string            `json:"url,omitempty"`
	Address   string            `json:"address,omitempty"`
	Ports     map[string]string `json:"ports,omitempty"` // container port -> host:port
	Image     string            `json:"image,omitempty"`
	Built     bool              `json:"built"`
	Pinned    bool              `json:"pinned,omitempty"` // by clocal update
	Container string            `json:"container,omitempty"`
}

func writeUpJSON(o *UpOptions, project string, res *stack.UpResult, eps []stack.Endpoint) error {
	out := upJSON{Project: project, Services: map[string]serviceJSON{}, Copied: res.Copied}
	if res.Remote {
		out.DockerHost, out.DockerContext = res.Run.URL, res.Run.Context
	}
	for _, s := range res.Selection.Services {
		sj := serviceJSON{Ports: map[string]string{}}
		if b, ok := res.Builds[s]; ok {
			sj.Image, sj.Built = b.Image, b.Built
		} else if img, ok := res.Images[s]; ok {
			sj.Image = img // kept from an earlier up: what it runs
		}
		if p, ok := res.Pins[s]; ok {
			sj.Image, sj.Pinned = p.Image, true
		}
		out.Services[s] = sj
	}
	addEndpoints(&out, eps, false)
	return writeJSON(o.IO.Out, out)
}

// addEndpoints fills the services' addresses (the first published port is the service's
// URL and address); with add, services not in out yet are added.
func addEndpoints(out *upJSON, eps []stack.Endpoint, add bool) {
	for _, e := range eps {
		sj, ok := out.Services[e.Service]
		if !ok && !add {
			continue
		}
		if sj.Ports == nil {
			sj.Ports = map[string]string{}
		}
		if sj.URL == "" {
			sj.URL, sj.Address = e.URL, e.Address()
		}
		sj.Ports[fmt.Sprint(e.Port)] = e.Address()
		out.Services[e.Service] = sj
	}
}

func printEndpoints(io *IOStreams, eps []stack.Endpoint) {
	if len(eps) == 0 {
		return
	}
	bold := io.Colorize()
	tw := tabwriter.NewWriter(io.Out, 0, 4, 2, ' ', 0)
	for _, e := range eps {
		fmt.Fprintf(tw, "%s\t%s\n", bold(e.Service), e.URL)
	}
	_ = tw.Flush()
}
