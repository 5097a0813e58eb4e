package cli

import (
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
)

// pullPolicy is the --pull flag: an invalid value is a usage error when flags are parsed.
type pullPolicy struct{ p *registry.Policy }

func (v pullPolicy) String() string { return string(*v.p) }

func (v pullPolicy) Set(s string) error {
	p, err := registry.ParsePolicy(s)
	if err != nil {
		return err
	}
	*v.p = p
	return nil
}

func (pullPolicy) Type() string { return "policy" }

// pullFlag defines --pull (default missing) on up and watch.
func pullFlag(cmd *cobra.Command, p *registry.Policy) {
	*p = registry.PullMissing
	cmd.Flags().Var(pullPolicy{p}, "pull", "pull images clocal does not build (third-party images, base images of builds): missing, always or never")
	_ = cmd.RegisterFlagCompletionFunc("pull", cobra.FixedCompletions(registry.Policies, cobra.ShellCompDirectiveNoFileComp))
}

// setPull gives the stack the pull policy, with progress redrawn in place in a terminal
// (lines without colour, nothing with -q).
func setPull(io *IOStreams, st *stack.Stack, p registry.Policy) {
	st.Pull = p
	if rp, ok := st.Puller.(*registry.Puller); ok {
		rp.TTY = io.LiveOutput()
		if io.Quiet {
			rp.Out = nil
		}
	}
}
