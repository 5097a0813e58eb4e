// Package cli holds clocal's commands: one file per command, each with an Options struct, a
// NewCmdX constructor and a runX function that does the work through the packages below.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/buildview"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// Factory gives commands what they need, lazily: the workspace is loaded and Docker is
// contacted only by commands that use them.
type Factory struct {
	IO *IOStreams

	// WorkspaceDir is -w/--workspace ("" = $CLOCAL_WORKSPACE or walk up from the cwd).
	WorkspaceDir string
	// ProjectName is -p/--project-name ("" = derived from the workspace).
	ProjectName string
	// DockerHost is -H/--docker-host and DockerContext --context: the Docker daemon to
	// use, as docker's -H and --context choose it ("" for both: DOCKER_HOST, then
	// DOCKER_CONTEXT, then the current docker context).
	DockerHost, DockerContext string

	// NewEngine and NewDocker can be replaced in tests.
	NewEngine func(ctx context.Context) (engine.Engine, error)
	NewDocker func(ctx context.Context) (client.APIClient, error)
	// Host resolves the daemon stacks run on (nil: as the docker CLI does).
	Host func() (engine.Host, error)
	// RouterExecutable is the path of this clocal executable when it serves `clocal
	// __router` (cmd/clocal sets it): one source of the router image. Tests leave it
	// empty: a test binary is not clocal.
	RouterExecutable string

	wsOnce sync.Once
	ws     *workspace.Workspace
	wsErr  error
}

// NewFactory returns the production factory.
func NewFactory(io *IOStreams) *Factory {
	f := &Factory{IO: io}
	f.NewDocker = func(ctx context.Context) (client.APIClient, error) {
		// The same daemon the engine talks to.
		return engine.NewAPIClient(ctx, f.DockerHost, f.DockerContext)
	}
	f.NewEngine = func(ctx context.Context) (engine.Engine, error) {
		// compose's progress is status output (stderr); exec's output is the command's
		// (stdout), as with docker compose exec.
		return engine.New(ctx, engine.Options{Out: f.IO.Out, Err: f.IO.ErrOut, In: f.IO.In, ProgressMode: f.IO.ProgressMode(),
			Host: f.DockerHost, Context: f.DockerContext})
	}
	return f
}

// Workspace loads the workspace once. Errors in its files are bad input (exit 2).
func (f *Factory) Workspace() (*workspace.Workspace, error) {
	f.wsOnce.Do(func() {
		root := f.WorkspaceDir
		if root == "" {
			cwd, err := os.Getwd()
			if err != nil {
				f.wsErr = err
				return
			}
			root, err = workspace.Find(cwd)
			if err != nil {
				f.wsErr = BadInput(fmt.Errorf("%w (run clocal inside a workspace, or pass -w DIR)", err))
				return
			}
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			f.wsErr = err
			return
		}
		ws, err := workspace.Load(abs)
		if err != nil {
			f.wsErr = BadInput(err)
			return
		}
		for _, w := range ws.Warnings {
			fmt.Fprintf(f.IO.ErrOut, "warning: %s\n", redact.Text(w))
		}
		f.ws = ws
	})
	return f.ws, f.wsErr
}

// Project returns the compose project name: -p, else the workspace default.
func (f *Factory) Project() (string, error) {
	if f.ProjectName != "" {
		return f.ProjectName, nil
	}
	ws, err := f.Workspace()
	if err != nil {
		return "", err
	}
	return ws.ProjectName(), nil
}

// Stack connects to Docker and returns the workspace's stack (stack.Open, the constructor
// pkg/stacktest uses too). The caller closes the engine.
func (f *Factory) Stack(ctx context.Context) (*stack.Stack, error) {
	ws, err := f.Workspace()
	if err != nil {
		return nil, err
	}
	if _, err := build.BackendFromEnv(); err != nil {
		return nil, BadInput(err)
	}
	if _, err := build.JobsFromEnv(); err != nil {
		return nil, BadInput(err)
	}
	st, err := stack.Open(ctx, stack.Config{Workspace: ws, Name: f.ProjectName, Out: f.IO.ErrOut, Connect: f.Connect, Host: f.RunHost,
		RouterExecutable: f.RouterExecutable})
	if err != nil {
		return nil, err
	}
	// Build output: no escape sequence at all without colour (build.sh runs under a
	// pseudo-terminal and colours its output), nothing with -q (a failed build's last
	// lines are in its error).
	st.Builder.Plain = f.IO.NoColor
	if f.IO.Quiet {
		st.Builder.Out = nil
	}
	return st, nil
}

// liveBuilds shows the stack's builds as one redrawn line per service in a terminal
// (buildview); elsewhere build output stays prefixed lines. The returned func ends the
// live display (before output that is not about builds, such as a watch's events).
func (f *Factory) liveBuilds(st *stack.Stack) func() {
	if !f.IO.LiveOutput() {
		return func() {}
	}
	v := buildview.New(f.IO.ErrOut, f.IO.TerminalWidth())
	st.Builder.Progress = v
	return func() {
		st.Builder.Progress = nil
		v.Close()
	}
}

// Connect returns an engine and a Docker client, failing with one line saying how to fix
// it when the daemon is unreachable (within 2 s for a local daemon, 15 s over ssh). Closing
// the engine closes the client too (an ssh:// host's connection ends with both).
func (f *Factory) Connect(ctx context.Context) (engine.Engine, client.APIClient, error) {
	eng, err := f.NewEngine(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := eng.Ping(ctx); err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	docker, err := f.NewDocker(ctx)
	if err != nil {
		_ = eng.Close()
		return nil, nil, err
	}
	return &clientsEngine{Engine: eng, docker: docker}, docker, nil
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	var noColor, showVersion, versionJSON bool
	versionCmd := NewCmdVersion(f, nil)
	root := &cobra.Command{
		Use:   "clocal",
		Short: "Run trimmed local stacks from production job files",
		Long: `clocal turns production job files into trimmed compose projects and runs them on the
local Docker daemon: "clocal up repo-manager" builds repo-manager and exactly what it
depends on with the production build scripts, starts them healthy, and prints their URLs.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if noColor {
				f.IO.NoColor = true
			}
			return f.checkDaemonFlags(cmd)
		},
		Args: rootArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				if versionJSON {
					_ = versionCmd.Flags().Set("json", "true")
				}
				versionCmd.SetContext(cmd.Context())
				return versionCmd.RunE(versionCmd, nil)
			}
			return cmd.Help()
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetIn(f.IO.In)
	pf := root.PersistentFlags()
	pf.StringVarP(&f.WorkspaceDir, "workspace", "w", "", "workspace folder (default: $CLOCAL_WORKSPACE or the nearest folder with clocal.yaml)")
	pf.StringVarP(&f.ProjectName, "project-name", "p", "", "compose project name (default: derived from the workspace)")
	pf.StringVarP(&f.DockerHost, "docker-host", "H", "", "Docker daemon to use, as docker -H: unix://, tcp:// or ssh://user@host (default: DOCKER_HOST, else the docker context)")
	pf.StringVar(&f.DockerContext, "context", "", "docker context to use, as docker --context (default: DOCKER_CONTEXT, else the current one: docker context use)")
	pf.BoolVar(&noColor, "no-color", false, "no colours nor any other terminal escape code (NO_COLOR is respected too)")
	pf.BoolVarP(&f.IO.Quiet, "quiet", "q", false, "print only errors and the result (no build output, no progress)")
	root.Flags().BoolVar(&showVersion, "version", false, "show clocal's, the compose library's and the Docker engine's versions (clocal version)")
	root.Flags().BoolVar(&versionJSON, "json", false, "with --version: print JSON")
	_ = root.Flags().MarkHidden("json")

	root.AddGroup(&cobra.Group{ID: "stack", Title: "Stack commands:"},
		&cobra.Group{ID: "service", Title: "Service commands:"},
		&cobra.Group{ID: "model", Title: "Job files and workspace:"},
		&cobra.Group{ID: "setup", Title: "Setup and maintenance:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("model", NewCmdConvert(f, nil), NewCmdValidate(f, nil), NewCmdConfig(f, nil), NewCmdGraph(f, nil), NewCmdProfiles(f, nil))
	add("stack", NewCmdUp(f, nil), NewCmdDown(f, nil), NewCmdWatch(f, nil), NewCmdPs(f, nil), NewCmdLs(f, nil), NewCmdStats(f, nil), NewCmdEnv(f, nil), NewCmdUI(f, nil))
	add("service", NewCmdStart(f, nil), NewCmdStop(f, nil), NewCmdRestart(f, nil), NewCmdLogs(f, nil),
		NewCmdShell(f, nil), NewCmdExec(f, nil), NewCmdInspect(f, nil), NewCmdPort(f, nil), NewCmdUpdate(f, nil))
	add("setup", NewCmdDoctor(f, nil), NewCmdGC(f, nil), NewCmdPrune(f, nil), NewCmdInit(f, nil), NewCmdRouter(f), versionCmd)
	setUsageErrors(root)
	registerGlobalCompletions(f, root)
	return root
}

// connectServices is the start of every verb on services of a running stack: the project
// name, the named services resolved (none: all), and a reachable engine (Close it). Names
// are checked before the daemon is contacted, so bad input is exit 2 even with Docker down.
func (f *Factory) connectServices(ctx context.Context, names []string) (project string, services []string, eng engine.Engine, err error) {
	project, err = f.Project()
	if err != nil {
		return "", nil, nil, err
	}
	services, err = resolveServices(f, names)
	if err != nil {
		return "", nil, nil, err
	}
	eng, _, err = f.Connect(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	return project, services, eng, nil
}

// lockProject takes the project lock of the stack named name, as every change to a
// stack's containers does (up, down, update, start/stop/restart, the dev loop), so two
// clocal processes never change one stack at once. Commands that work by label alone
// (down -p NAME outside a workspace) have no workspace and hence no lock to take.
func (f *Factory) lockProject(ctx context.Context, name string) (func(), error) {
	ws, err := f.Workspace()
	if err != nil {
		return func() {}, nil
	}
	return stack.LockProjectAt(ctx, ws.Root, name, f.IO.ErrOut)
}

// serviceStack resolves one service, job or host name and opens the stack (Close its
// Engine): the start of the verbs that need the workspace as well as the daemon.
func (f *Factory) serviceStack(ctx context.Context, name string) (string, *stack.Stack, error) {
	svcs, err := resolveServices(f, []string{name})
	if err != nil {
		return "", nil, err
	}
	st, err := f.Stack(ctx)
	if err != nil {
		return "", nil, err
	}
	return svcs[0], st, nil
}

// targetStack checks targets (bad input, before the daemon is contacted) and opens the
// stack (Close its Engine): the start of up and ui.
func (f *Factory) targetStack(ctx context.Context, targets []string) (*stack.Stack, error) {
	ws, err := f.Workspace()
	if err != nil {
		return nil, err
	}
	if len(targets) > 0 {
		if _, err := ws.Resolve(targets); err != nil {
			return nil, BadInput(err)
		}
	}
	return f.Stack(ctx)
}

// resolveServices maps service, job or host names given on the command line to local
// services; unknown names are bad input with suggestions.
func resolveServices(f *Factory, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ws, err := f.Workspace()
	if err != nil {
		return nil, err
	}
	var out []string
	var bad []string
	seen := map[string]bool{}
	for _, n := range names {
		svcs := ws.Lookup(n)
		if len(svcs) == 0 {
			// a pause service of a shared namespace, or a host's router, is addressable too
			if strings.HasPrefix(n, "host-") || strings.HasPrefix(n, "router-") {
				svcs = []string{n}
			} else {
				bad = append(bad, n)
				continue
			}
		}
		for _, s := range svcs {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if len(bad) > 0 {
		if _, err := ws.Resolve(bad); err != nil {
			return nil, BadInput(err)
		}
		return nil, BadInputf("unknown service %q", bad[0])
	}
	return out, nil
}

// checkDaemonFlags refuses, as bad input (exit 2) and before any command runs, a
// --docker-host with a --context (docker refuses both too), a context that does not exist
// and a host that is not a Docker address.
func (f *Factory) checkDaemonFlags(cmd *cobra.Command) error {
	if f.DockerHost == "" && f.DockerContext == "" {
		return nil
	}
	if f.DockerHost != "" && f.DockerContext != "" {
		return usageError(cmd, errors.New("--docker-host and --context both choose the Docker daemon: give one of them"))
	}
	if _, err := engine.ResolveHost(f.DockerHost, f.DockerContext); err != nil {
		if f.DockerHost != "" {
			return BadInput(fmt.Errorf("--docker-host %q: %w", f.DockerHost, err))
		}
		return BadInput(fmt.Errorf("--context: %w", err))
	}
	return nil
}
