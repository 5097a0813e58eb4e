package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// addJSONFlag defines --json, the same way on every command that prints data or changes
// state (README: "JSON output").
func addJSONFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "json", false, "print JSON (schema in the README) instead of text")
}

// writeJSON is the one JSON printer of the CLI: indented, one document, a trailing newline.
// Commands that stream (logs, watch events) write one compact object per line instead
// (writeJSONLine).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of JSON (JSON Lines).
func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
