package cli

import (
	"github.com/spf13/cobra"
)

// profileFlag is --profile NAME (repeatable) on the verbs that take TARGET...: the way
// docker compose names what to start (`docker compose --profile blog up`), so that
// `clocal up --profile blog` is `clocal up blog`. Each value must be a profile.
type profileFlag struct {
	f     *Factory
	names []string
}

// addProfileFlag adds --profile to cmd, with completion of the workspace's profiles not
// already given (as a flag or as a TARGET).
func addProfileFlag(f *Factory, cmd *cobra.Command) *profileFlag {
	p := &profileFlag{f: f}
	cmd.Flags().StringSliceVar(&p.names, "profile", nil, "a profile to include, like naming it as a TARGET (repeatable; docker compose's --profile)")
	_ = cmd.RegisterFlagCompletionFunc("profile", func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		ws, err := f.Workspace()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		given, _ := cmd.Flags().GetStringSlice("profile")
		return workspaceNames(ws, nameKinds{profiles: true}, append(given, args...), prefix), cobra.ShellCompDirectiveNoFileComp
	})
	return p
}

// given reports whether --profile was given (up needs a TARGET or a --profile).
func (p *profileFlag) given() bool { return len(p.names) > 0 }

// targets is the command's targets: args, then the --profile names, each checked to be a
// profile of the workspace (else bad input, exit 2).
func (p *profileFlag) targets(args []string) ([]string, error) {
	if len(p.names) == 0 {
		return args, nil
	}
	ws, err := p.f.Workspace()
	if err != nil {
		return nil, err
	}
	out := append([]string(nil), args...)
	for _, n := range p.names {
		if _, ok := ws.Profiles[n]; !ok {
			return nil, BadInputf("--profile %s: no such profile (clocal profiles lists them; services, jobs and hosts are given as TARGET)", n)
		}
		out = append(out, n)
	}
	return out, nil
}
