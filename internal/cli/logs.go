package cli

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clocal-dev/clocal/internal/ansi"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/redact"
)

// LogsOptions are the flags of `clocal logs`.
type LogsOptions struct {
	IO         *IOStreams
	F          *Factory
	Services   []string
	Follow     bool
	Since      string
	Tail       string
	Timestamps bool
	NoPrefix   bool
	JSON       bool
}

// NewCmdLogs creates `clocal logs` (alias `log`, the old VM's verb).
func NewCmdLogs(f *Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	o := &LogsOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:     "logs [SERVICE...]",
		Aliases: []string{"log"},
		Short:   "Show service logs, several services multiplexed with one color each",
		Example: `  clocal logs -f repo-manager kvstore
  clocal logs --since 10m --tail 100 repo-manager`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Services = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runLogs(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Follow, "follow", "f", false, "keep following (also containers recreated later)")
	fl.StringVar(&o.Since, "since", "", "show logs since a time (RFC 3339) or a duration (10m)")
	fl.StringVarP(&o.Tail, "tail", "n", "all", "number of lines from the end of each container's log")
	fl.BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	fl.BoolVar(&o.NoPrefix, "no-prefix", false, "do not prefix lines with the service name")
	fl.BoolVar(&o.JSON, "json", false, "print one JSON object per line: time, service, container, stream, line")
	return cmd
}

// logPrinter prefixes each line with its service name, in a stable color per service
// (no colour, and the application's own escape codes removed, when colour is off), or
// writes one JSON object per line. Lines are redacted (redact.Text) either way. It
// writes through one buffered writer and flushes per line so a chatty service costs one
// small buffer, never an unbounded queue.
type logPrinter struct {
	io       *IOStreams
	w        *bufio.Writer
	noPrefix bool
	json     bool
	width    int
	colors   map[string]func(string, ...any) string
}

// logJSON is one line of `logs --json`.
type logJSON struct {
	Time      string `json:"time,omitempty"` // RFC 3339 with nanoseconds, from the daemon
	Service   string `json:"service"`
	Container string `json:"container"`
	Stream    string `json:"stream"` // stdout or stderr
	Line      string `json:"line"`
}

func newLogPrinter(io *IOStreams, services []string, noPrefix, asJSON bool) *logPrinter {
	p := &logPrinter{io: io, w: bufio.NewWriterSize(io.Out, 32*1024), noPrefix: noPrefix, json: asJSON, colors: map[string]func(string, ...any) string{}}
	sorted := append([]string(nil), services...)
	sort.Strings(sorted)
	for i, s := range sorted {
		p.colors[s] = io.Colorize(serviceColors[i%len(serviceColors)])
		if len(s) > p.width {
			p.width = len(s)
		}
	}
	return p
}

func (p *logPrinter) Log(service, container, line string, stderr bool) {
	if p.io.NoColor || p.json {
		line = ansi.Strip(line)
	}
	line = redact.Text(line)
	switch {
	case p.json:
		l := logJSON{Service: service, Container: container, Stream: "stdout", Line: line}
		if stderr {
			l.Stream = "stderr"
		}
		// The engine was asked for timestamps: the first word of the line.
		if ts, rest, ok := strings.Cut(line, " "); ok {
			if _, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				l.Time, l.Line = ts, rest
			}
		}
		_ = writeJSONLine(p.w, l)
	case p.noPrefix:
		fmt.Fprintln(p.w, line)
	default:
		c, ok := p.colors[service]
		if !ok {
			c = p.io.Colorize(serviceColors[len(p.colors)%len(serviceColors)])
			p.colors[service] = c
			if len(service) > p.width {
				p.width = len(service)
			}
		}
		fmt.Fprintf(p.w, "%s %s\n", c("%-*s |", p.width, service), line)
	}
	_ = p.w.Flush()
}

func runLogs(ctx context.Context, o *LogsOptions) error {
	name, services, eng, err := o.F.connectServices(ctx, o.Services)
	if err != nil {
		return err
	}
	defer eng.Close()
	names := services
	if len(names) == 0 {
		ctrs, err := eng.Ps(ctx, name, engine.PsOptions{All: true})
		if err != nil {
			return err
		}
		for _, c := range ctrs {
			names = append(names, c.Service)
		}
	}
	printer := newLogPrinter(o.IO, names, o.NoPrefix, o.JSON)
	err = eng.Logs(ctx, name, services, engine.LogOptions{Follow: o.Follow, Since: o.Since, Tail: o.Tail, Timestamps: o.Timestamps || o.JSON}, printer)
	if err != nil && ctx.Err() != nil && o.Follow {
		return nil // Ctrl-C ends a follow normally
	}
	return err
}
