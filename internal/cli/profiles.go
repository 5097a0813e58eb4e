package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// ProfilesOptions are the flags of `clocal profiles`.
type ProfilesOptions struct {
	IO   *IOStreams
	F    *Factory
	JSON bool
}

// NewCmdProfiles creates `clocal profiles`.
func NewCmdProfiles(f *Factory, runF func(*ProfilesOptions) error) *cobra.Command {
	o := &ProfilesOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List profiles with their descriptions and service counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			return runProfiles(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

type profileInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Services    []string `json:"services"` // the closure `up` starts
}

func runProfiles(o *ProfilesOptions) error {
	ws, err := o.F.Workspace()
	if err != nil {
		return err
	}
	var infos []profileInfo
	for _, name := range ws.ProfileNames() {
		sel, err := ws.Resolve([]string{name})
		if err != nil {
			return BadInput(err)
		}
		infos = append(infos, profileInfo{Name: name, Description: ws.Profiles[name].Description, Services: sel.Services})
	}
	if o.JSON {
		return writeJSON(o.IO.Out, infos)
	}
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSERVICES\tDESCRIPTION")
	for _, p := range infos {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Name, len(p.Services), p.Description)
	}
	return tw.Flush()
}
