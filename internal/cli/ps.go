package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/stack"
)

// PsOptions are the flags of `clocal ps`.
type PsOptions struct {
	IO       *IOStreams
	F        *Factory
	Services []string
	All      bool
	JSON     bool
}

// NewCmdPs creates `clocal ps` (alias `status`).
func NewCmdPs(f *Factory, runF func(context.Context, *PsOptions) error) *cobra.Command {
	o := &PsOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:               "ps [SERVICE...]",
		Aliases:           []string{"status"},
		Short:             "List the stack's containers with state, health and ports",
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Services = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runPs(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.All, "all", "a", false, "include stopped containers")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

type psJSON struct {
	Service string   `json:"service"`
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	Image   string   `json:"image"`
	State   string   `json:"state"`
	Health  string   `json:"health,omitempty"`
	Status  string   `json:"status"`
	Ports   []string `json:"ports,omitempty"`
	// Pinned is the image clocal update pinned the service to ("" when not pinned).
	Pinned string `json:"pinned,omitempty"`
	// RemotePorts are the bindings on the Docker host when it is another machine (Ports
	// are then the addresses on this machine that reach them).
	RemotePorts []string `json:"docker_host_ports,omitempty"`
	// Stale: the service's files build another image than the one running (a failed build
	// or replacement left it on an older image, or a rebuild is under way).
	Stale bool `json:"stale,omitempty"`
}

func runPs(ctx context.Context, o *PsOptions) error {
	name, services, eng, err := o.F.connectServices(ctx, o.Services)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctrs, err := eng.Ps(ctx, name, engine.PsOptions{All: o.All, Services: services})
	if err != nil {
		return err
	}
	remote, err := o.F.remoteAddresses(ctx, name, eng, ctrs, len(services) == 0)
	if err != nil {
		return err
	}
	pins := map[string]stack.Pin{}
	if ws, err := o.F.Workspace(); err == nil {
		pins, _ = stack.LoadPins(ws, name)
	}
	// A port published by the pause container of a shared namespace is shown on the row of
	// the member listening on it (the pause service's dev.clocal.ports label says which).
	movedTo := map[string]map[int]string{} // pause service -> port -> member
	for _, c := range ctrs {
		if l := c.Labels[labels.Ports]; l != "" {
			m := map[int]string{}
			for _, pm := range strings.Split(l, ",") {
				port, member, _ := strings.Cut(pm, "=")
				if n, err := strconv.Atoi(port); err == nil {
					m[n] = member
				}
			}
			movedTo[c.Service] = m
		}
	}
	ports := map[string][]string{}
	remotePorts := map[string][]string{}
	for _, c := range ctrs {
		for _, p := range c.Publishers {
			if p.PublishedPort != 0 && !strings.Contains(p.HostIP, ":") {
				svc := c.Service
				if m := movedTo[c.Service][p.TargetPort]; m != "" {
					svc = m
				}
				binding := fmt.Sprintf("%s:%d->%d/%s", p.HostIP, p.PublishedPort, p.TargetPort, p.Protocol)
				if e, ok := remote[remoteKey(c.Name, p.TargetPort)]; ok {
					// on another machine: this machine's address, and the binding there
					ports[svc] = append(ports[svc], fmt.Sprintf("%s->%d/%s", e.Address(), p.TargetPort, p.Protocol))
					remotePorts[svc] = append(remotePorts[svc], binding)
					continue
				}
				ports[svc] = append(ports[svc], binding)
			}
		}
	}
	stale := staleServices(ctx, o.F, name, eng, ctrs)
	rows := make([]psJSON, 0, len(ctrs))
	for _, c := range ctrs {
		r := psJSON{Service: c.Service, Name: c.Name, ID: shortID(c.ID), Image: redact.Credentials(c.Image), State: c.State, Health: c.Health, Status: redact.Text(c.Status),
			Ports: ports[c.Service], Pinned: redact.Credentials(pins[c.Service].Image), RemotePorts: remotePorts[c.Service],
			Stale: stale[c.Service] && pins[c.Service].Image == ""} // a pinned service runs another image on purpose
		rows = append(rows, r)
	}
	if o.JSON {
		return writeJSON(o.IO.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(o.IO.ErrOut, "%s: no containers (start it with: clocal up TARGET)\n", name)
		return nil
	}
	if host, err := o.F.RunHost(); err == nil && !host.Local() {
		fmt.Fprintf(o.IO.ErrOut, "%s runs on %s\n", name, host)
	}
	green, red, yellow := o.IO.Colorize(colorGreen), o.IO.Colorize(colorRed), o.IO.Colorize(colorYellow)
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tPORTS\tIMAGE")
	for _, r := range rows {
		state := r.State
		switch {
		case r.State == "running" && (r.Health == "" || r.Health == "healthy"):
			state = green(state)
		case r.State == "running":
			state = yellow(state)
		default:
			state = red(state)
		}
		health := r.Health
		if health == "" {
			health = "-"
		}
		img := r.Image
		if r.Pinned != "" {
			img += " (pinned: clocal update " + r.Service + " --latest unpins)"
		}
		if r.Stale {
			img += " " + yellow("(stale)")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Service, state, health, strings.Join(r.Ports, ", "), img)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(stale) > 0 {
		fmt.Fprintf(o.IO.ErrOut, "stale: the files of %s build another image than the one running (a build or replacement failed, or one is under way): clocal up, or save again under clocal watch\n", strings.Join(slices.Sorted(maps.Keys(stale)), ", "))
	}
	return nil
}

// staleServices returns the services whose running image is not what their files build now
// (nil outside a workspace: nothing to compare with).
func staleServices(ctx context.Context, f *Factory, project string, eng engine.Engine, ctrs []engine.Container) map[string]bool {
	ws, err := f.Workspace()
	if err != nil {
		return nil
	}
	running := map[string]string{}
	for _, c := range ctrs {
		if c.State == "running" {
			running[c.Service] = c.Image
		}
	}
	st := stack.New(ws, project, eng, nil, io.Discard)
	names, _ := st.StaleServices(ctx, slices.Sorted(maps.Keys(running)), running)
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
