package cli

import (
	"context"
	"encoding/json"
	"io"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/stack"
)

// InspectOptions are the flags of `clocal inspect`.
type InspectOptions struct {
	IO          *IOStreams
	F           *Factory
	Service     string
	ShowSecrets bool
}

// NewCmdInspect creates `clocal inspect SERVICE`.
func NewCmdInspect(f *Factory, runF func(context.Context, *InspectOptions) error) *cobra.Command {
	o := &InspectOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "inspect SERVICE",
		Short: "Print a service's resolved configuration and container state as JSON",
		Long: `Print, as JSON, the service's resolved compose configuration (from its job files, service
file, profile and local overrides), its production jobs and the state of its containers.
Env values that look secret are redacted unless --show-secrets.`,
		Example:           "  clocal inspect repo-manager | jq .containers[0].health",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeService(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runInspect(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.ShowSecrets, "show-secrets", false, "show secret env values")
	return cmd
}

type inspectJSON struct {
	Project  string   `json:"project"`
	Service  string   `json:"service"`
	Jobs     []string `json:"jobs"`
	Hosts    []string `json:"production_hosts"`
	JobFiles []string `json:"job_files"`
	Source   string   `json:"source,omitempty"`
	Owner    string   `json:"network_owner,omitempty"`
	// ProductionImage is the image production runs; Prebuilt says clocal runs it as is
	// (no service folder builds it).
	ProductionImage string `json:"production_image,omitempty"`
	Prebuilt        bool   `json:"prebuilt,omitempty"`
	// ProductionFields are, per job, the fields of a production schema clocal does not map.
	ProductionFields map[string]json.RawMessage `json:"production_fields,omitempty"`
	// ProductionFileFields are, per job file, the fields of the file outside its jobs.
	ProductionFileFields map[string]json.RawMessage `json:"production_file_fields,omitempty"`
	Config               *types.ServiceConfig       `json:"config,omitempty"`
	Containers           []engine.Container         `json:"containers"`
	// Pinned is the image clocal update pinned the service to (up, watch and restart keep it).
	Pinned *stack.Pin `json:"pinned,omitempty"`
}

func runInspect(ctx context.Context, o *InspectOptions) error {
	svcName, st, err := o.F.serviceStack(ctx, o.Service)
	if err != nil {
		return err
	}
	defer st.Engine.Close()
	out := inspectJSON{Project: st.Name, Service: svcName}
	if svc := st.WS.Services[svcName]; svc != nil {
		out.Jobs, out.Hosts, out.JobFiles, out.Source = svc.JobNames(), svc.Hosts, svc.JobFiles, svc.Source
		out.ProductionImage, out.Prebuilt = svc.Image, svc.Prebuilt
		add := func(m *map[string]json.RawMessage, key string, extra json.RawMessage) {
			if len(extra) == 0 {
				return
			}
			if *m == nil {
				*m = map[string]json.RawMessage{}
			}
			if !o.ShowSecrets {
				extra = redactJSON(extra)
			}
			(*m)[key] = extra
		}
		for _, j := range svc.Jobs {
			add(&out.ProductionFields, j.Name, j.Extra)
			add(&out.ProductionFileFields, j.Pos.File, j.FileExtra)
		}
	}
	sel, err := st.WS.Resolve([]string{svcName})
	if err != nil {
		return BadInput(err)
	}
	if p, plan, err := st.Preview(ctx, sel, st.Images(sel.Services)); err == nil {
		if sc, ok := p.Services[svcName]; ok {
			if !o.ShowSecrets {
				sc.Environment = redact.Map(sc.Environment)
			}
			out.Config = &sc
		}
		out.Owner = plan.Owner(svcName)
	} else {
		return BadInput(err)
	}
	ctrs, err := st.Engine.Ps(ctx, st.Name, engine.PsOptions{All: true, Services: []string{svcName}})
	if err != nil {
		return err
	}
	if ctrs == nil {
		ctrs = []engine.Container{}
	}
	out.Containers = ctrs
	if pins, err := st.Pins(); err == nil {
		if p, ok := pins[svcName]; ok {
			out.Pinned = &p
		}
	}
	if o.ShowSecrets {
		return writeJSON(o.IO.Out, out)
	}
	// Structured redaction above; the whole document once more for what sits elsewhere
	// (a job's command line with --password X, a label).
	return writeRedacted(o.IO.Out, func(w io.Writer) error { return writeJSON(w, out) })
}

// redactJSON redacts the string values of secret-looking keys in a JSON object, at any depth.
func redactJSON(raw json.RawMessage) json.RawMessage {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(k, e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(key, e)
			}
		case string:
			return redact.Value(key, x)
		}
		return v
	}
	out, err := json.Marshal(walk("", v))
	if err != nil {
		return raw
	}
	return out
}
