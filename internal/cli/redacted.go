package cli

import (
	"bytes"
	"io"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/redact"
)

// writeRedacted renders output into a buffer and writes it with its secrets hidden
// (redact.Text): for whole documents such as a graph in any format.
func writeRedacted(w io.Writer, render func(io.Writer) error) error {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		return err
	}
	_, err := io.WriteString(w, redact.Text(b.String()))
	return err
}

// redactedEvents hides secrets in the dev loop's events before they are printed (text or
// JSON): a failed build's error carries build.sh's last lines.
type redactedEvents struct{ next devloop.Reporter }

func (r redactedEvents) Report(e devloop.Event) {
	e.Error = redact.Text(e.Error)
	e.Image = redact.Credentials(e.Image)
	r.next.Report(e)
}
