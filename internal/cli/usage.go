package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// usageError is a command line clocal cannot run (unknown command or flag, a missing or
// extra argument, a bad flag value): bad input, exit 2, with cobra's message and a hint,
// as docker and gh answer.
func usageError(cmd *cobra.Command, err error) error {
	return BadInput(fmt.Errorf("%w\nusage: %s\nrun '%s --help' for more", err, cmd.UseLine(), cmd.CommandPath()))
}

// setUsageErrors makes every usage error of the tree bad input: flag errors through
// cobra's flag error func (inherited by every subcommand), argument-count errors by
// wrapping each command's Args check, unknown commands by the root's own Args check
// (rootArgs).
func setUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(usageError)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && c.Args != nil {
			check := c.Args
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return usageError(cmd, err)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// rootArgs is the root command's argument check: any argument left is a command cobra did
// not find. Cobra's own check (used when Args is nil) gives the same message but an error
// clocal could not tell from a runtime failure, and a root without Args cannot run
// (--version).
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := suggestCommands(cmd, args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return BadInput(fmt.Errorf("%s\nrun '%s --help' for a list of commands", msg, cmd.CommandPath()))
}

// suggestCommands are the commands (or aliases: `statu` suggests `status`) whose name is
// within two edits of typed or starts with it; cobra's own suggestions ignore aliases.
func suggestCommands(root *cobra.Command, typed string) []string {
	typed = strings.ToLower(typed)
	var out []string
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			if strings.HasPrefix(name, typed) || editDistance(typed, name) <= 2 {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
