package redact

import (
	"bufio"
	"os"
	"strings"
)

// Entry is one entry of a redaction corpus (internal/redact/testdata/corpus.tsv): Text
// holds Secret, which must be masked; every string of Keep must survive.
type Entry struct {
	Text   string
	Secret string
	Keep   []string
}

// Multiline reports whether the entry spans lines (a PEM key): line-by-line output, such
// as logs, cannot recognise it.
func (e Entry) Multiline() bool { return strings.Contains(e.Text, "\n") }

// LoadCorpus reads a corpus file (TEXT<TAB>SECRET<TAB>KEPT|KEPT; # comments; \n in TEXT
// is a newline), for the tests of every package that prints. It panics on a bad file.
func LoadCorpus(path string) []Entry {
	f, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			panic("corpus " + path + ": want TEXT<TAB>SECRET<TAB>KEPT: " + line)
		}
		e := Entry{Text: strings.ReplaceAll(parts[0], `\n`, "\n"), Secret: parts[1]}
		if parts[2] != "" {
			e.Keep = strings.Split(parts[2], "|")
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		panic(err)
	}
	return out
}
