package cli

import (
	"context"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
	"github.com/clocal-dev/clocal/internal/stack/update"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// completeFunc is cobra's completion function type.
type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// nameKinds say which names of the workspace a completion offers.
type nameKinds struct{ profiles, services, jobs, hosts bool }

var (
	targetNames  = nameKinds{profiles: true, services: true, jobs: true, hosts: true} // up, watch, graph, config, doctor, stats, ui
	serviceNames = nameKinds{services: true, jobs: true, hosts: true}                 // the verbs on services of a stack
)

// workspaceNames lists the names of the given kinds starting with prefix, each with a
// description, leaving out the names already given (args): `clocal logs kvstore <TAB>`
// does not offer kvstore again.
func workspaceNames(ws *workspace.Workspace, k nameKinds, given []string, prefix string) []string {
	skip := map[string]bool{}
	for _, a := range given {
		skip[a] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(name, desc string) {
		if !seen[name] && !skip[name] && strings.HasPrefix(name, prefix) {
			seen[name] = true
			out = append(out, name+"\t"+desc)
		}
	}
	if k.profiles {
		for _, p := range ws.ProfileNames() {
			add(p, "profile: "+ws.Profiles[p].Description)
		}
	}
	for _, s := range ws.ServiceNames() {
		if k.services {
			add(s, "service")
		}
		if k.jobs {
			for _, j := range ws.Services[s].JobNames() {
				add(j, "job of "+s)
			}
		}
	}
	if k.hosts {
		for _, h := range ws.HostNames() {
			add(h, "host of "+strings.Join(ws.Lookup(h), ", "))
		}
	}
	sort.Strings(out)
	return out
}

// completeNames completes positional arguments with workspace names of the given kinds.
// With single, only the first argument is completed (exec SERVICE COMMAND...).
func completeNames(f *Factory, k nameKinds, single bool) completeFunc {
	return func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if single && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ws, err := f.Workspace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return workspaceNames(ws, k, args, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeTargets completes profile, service, job and host names (TARGET...).
func completeTargets(f *Factory) completeFunc { return completeNames(f, targetNames, false) }

// completeServices completes service, job and host names (SERVICE...).
func completeServices(f *Factory) completeFunc { return completeNames(f, serviceNames, false) }

// completeService completes the one SERVICE of exec, shell, port, inspect and update.
func completeService(f *Factory) completeFunc { return completeNames(f, serviceNames, true) }

// completeServiceFlag completes a repeatable service flag (gc --service), leaving out the
// services the flag already names.
func completeServiceFlag(f *Factory, flag string) completeFunc {
	return func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		ws, err := f.Workspace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		given, _ := cmd.Flags().GetStringSlice(flag)
		return workspaceNames(ws, nameKinds{services: true}, given, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeProjects completes -p/--project-name with the stacks on the daemon (and the
// workspace's default name), when the daemon answers within a second or two.
func completeProjects(f *Factory) completeFunc {
	return func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		var out []string
		seen := map[string]bool{}
		add := func(name, desc string) {
			if !seen[name] && strings.HasPrefix(name, prefix) {
				seen[name] = true
				out = append(out, name+"\t"+desc)
			}
		}
		if ws, err := f.Workspace(); err == nil {
			add(ws.ProjectName(), "this workspace's stack")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		if eng, docker, err := f.Connect(ctx); err == nil {
			defer eng.Close()
			if stacks, err := inventory.Collect(ctx, eng, docker, ""); err == nil {
				host, _ := os.Hostname()
				for _, s := range inventory.Summarize(stacks, host, func(int, string) bool { return true }, false) {
					add(s.Project, s.State+" "+s.Workspace)
				}
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeImageTags completes update --to with the tags of the service's local images.
func completeImageTags(f *Factory) completeFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		svcs, err := resolveServices(f, args[:1])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		docker, err := f.NewDocker(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer docker.Close()
		ws, err := f.Workspace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// The images update --list offers (update.LocalImages).
		cands, err := update.LocalImages{Docker: docker, Root: ws.Root}.Candidates(ctx, update.Query{Service: svcs[0]})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, c := range cands {
			if strings.HasPrefix(c.Tag, prefix) {
				out = append(out, c.Tag+"\t"+c.BuiltAt.Format(time.RFC3339))
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerGlobalCompletions completes the root's flags: -p with the stacks on the daemon,
// -w with folders.
func registerGlobalCompletions(f *Factory, root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("project-name", completeProjects(f))
	_ = root.RegisterFlagCompletionFunc("workspace", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return engine.ContextNames(), cobra.ShellCompDirectiveNoFileComp
	})
}
