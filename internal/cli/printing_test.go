package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/redact"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
	"github.com/clocal-dev/clocal/internal/stack/update"
)

// corpus is the redaction corpus (internal/redact/testdata/corpus.tsv).
func corpus(t *testing.T) []redact.Entry {
	t.Helper()
	return redact.LoadCorpus(filepath.Join(repoRoot(t), "internal", "redact", "testdata", "corpus.tsv"))
}

// leaks returns the corpus secrets (and the fixture's own) found in out.
func leaks(entries []redact.Entry, out string) []string {
	var found []string
	for _, e := range entries {
		if strings.Contains(out, e.Secret) {
			found = append(found, e.Secret)
		}
	}
	return found
}

// printingCommand is one invocation of a command that prints, on the running fixture
// stack; json decodes its --json output (nil: text only).
type printingCommand struct {
	args []string
	json func(t *testing.T, out string)
	// code is the exit status expected (doctor may find something to fix here: 0 or 1).
	codes []int
}

func decodeInto[T any](check func(t *testing.T, v T)) func(t *testing.T, out string) {
	return func(t *testing.T, out string) {
		t.Helper()
		var v T
		decode(t, "", out, &v)
		if check != nil {
			check(t, v)
		}
	}
}

// TestEveryPrintingCommand runs every command that prints on a stack of
// testdata/colorful, whose build.sh prints colour and the whole redaction corpus, whose
// container prints it in its logs, whose job holds secrets in its env:
//   - in a pseudo-terminal with NO_COLOR=1, again with --no-color, and through pipes
//     with colour not turned off: no escape code in anything printed (build output and
//     the compose library's progress included);
//   - with pipes: the --json variants parse as documented;
//   - either way: no secret of the corpus is printed.
//
// config, convert and inspect --show-secrets print the project by design; exec and shell
// pass the command's own streams through.
func TestEveryPrintingCommand(t *testing.T) {
	root := colorfulWorkspace(t)
	entries := corpus(t)
	var lines []string
	for _, e := range entries {
		if !e.Multiline() {
			lines = append(lines, e.Text)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "services", "colorful", "corpus.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	project := testProject(t)
	cleanupProjectIn(t, root, project)
	base := []string{"-w", root, "-p", project}
	args := func(a ...string) []string { return append(append([]string(nil), base...), a...) }

	// A build that fails after printing the corpus: the error shows its last lines, masked.
	r := runClocal(t, 5*time.Minute, []string{"CLOCAL_TEST_FAIL=1"}, args("up", "colorful", "--ephemeral-ports")...)
	if r.Code != ExitFailure || !strings.Contains(r.Err, "build failed") {
		t.Fatalf("failing build: exit %d\n%s", r.Code, r.Err)
	}
	if l := leaks(entries, r.Out+r.Err); len(l) > 0 {
		t.Errorf("a failing build printed secrets %q:\n%s", l, r.Err)
	}

	commands := []printingCommand{
		{args: []string{"up", "colorful", "--build", "--ephemeral-ports"}, json: decodeInto(func(t *testing.T, v upJSON) {
			if v.Project != project || v.Services["colorful"].Address == "" || !v.Services["colorful"].Built {
				t.Errorf("up --json: %+v", v)
			}
		})},
		{args: []string{"ps"}, json: decodeInto(func(t *testing.T, v []psJSON) {
			if len(v) != 2 {
				t.Errorf("ps --json: %+v", v)
			}
		})},
		{args: []string{"logs", "colorful"}, json: func(t *testing.T, out string) {
			n := 0
			dec := json.NewDecoder(strings.NewReader(out))
			for dec.More() {
				var l logJSON
				if err := dec.Decode(&l); err != nil || l.Service != "colorful" || l.Time == "" {
					t.Fatalf("logs --json line %d: %+v %v", n, l, err)
				}
				n++
			}
			if n < len(lines) {
				t.Errorf("logs --json: %d lines, the container printed %d", n, len(lines)+1)
			}
		}},
		{args: []string{"env"}, json: decodeInto(func(t *testing.T, v upJSON) {
			if v.Services["colorful"].URL == "" || v.Services["store"].Ports["5432"] == "" {
				t.Errorf("env --json: %+v", v)
			}
		})},
		{args: []string{"port", "colorful", "8080"}, json: decodeInto(func(t *testing.T, v []stack.Endpoint) {
			if len(v) != 1 || v[0].Port != 8080 || v[0].HostPort == 0 {
				t.Errorf("port --json: %+v", v)
			}
		})},
		{args: []string{"inspect", "colorful"}},
		{args: []string{"graph"}, json: decodeInto(func(t *testing.T, v graphJSON) {
			if len(v.Edges) != 1 || v.Edges[0].To != "store" {
				t.Errorf("graph --json: %+v", v)
			}
		})},
		{args: []string{"graph", "--format", "dot"}},
		{args: []string{"graph", "--format", "mermaid"}},
		{args: []string{"validate"}, json: decodeInto[[]Problem](nil)},
		{args: []string{"profiles"}, json: decodeInto[[]profileInfo](nil)},
		{args: []string{"restart", "store"}, json: decodeInto(func(t *testing.T, v actionJSON) {
			if v.Action != "restarted" || len(v.Containers) != 1 || v.Containers[0].StartedAt.IsZero() {
				t.Errorf("restart --json: %+v", v)
			}
		})},
		{args: []string{"stop", "store"}, json: decodeInto(func(t *testing.T, v actionJSON) {
			if v.Action != "stopped" || len(v.Containers) != 1 || v.Containers[0].State != "exited" {
				t.Errorf("stop --json: %+v", v)
			}
		})},
		{args: []string{"start", "store"}, json: decodeInto(func(t *testing.T, v actionJSON) {
			if v.Action != "started" || len(v.Containers) != 1 || v.Containers[0].State != "running" {
				t.Errorf("start --json: %+v", v)
			}
		})},
		{args: []string{"stats"}, json: decodeInto(func(t *testing.T, v statsJSON) {
			if len(v.Services) != 2 || v.Total.MemBytes == 0 {
				t.Errorf("stats --json: %+v", v)
			}
		})},
		{args: []string{"ls"}, json: decodeInto(func(t *testing.T, v []inventory.Summary) {
			found := false
			for _, s := range v {
				found = found || s.Project == project && s.State == "running" && s.Running == 2 && s.Workspace == root
			}
			if !found {
				t.Errorf("ls --json lacks %s running 2/2 in %s: %+v", project, root, v)
			}
		})},
		{args: []string{"update", "colorful", "--list"}, json: decodeInto(func(t *testing.T, v update.Status) {
			if len(v.Candidates) == 0 || v.Running == "" {
				t.Errorf("update --list --json: %+v", v)
			}
		})},
		{args: []string{"gc", "--dry-run", "--service", "colorful"}, json: decodeInto[gcJSON](nil)},
		{args: []string{"prune", "--stale", "--dry-run"}, json: decodeInto(func(t *testing.T, v pruneJSON) {
			if !v.DryRun || len(v.Stale) != 0 {
				t.Errorf("prune --json: a running stack is not stale: %+v", v)
			}
		})},
		{args: []string{"doctor", "colorful"}, codes: []int{0, 1}, json: decodeInto[[]struct {
			Check    string `json:"check"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Fix      string `json:"fix"`
		}](nil)},
		{args: []string{"version"}, json: decodeInto[versionJSON](nil)},
		{args: []string{"init"}, codes: []int{0, 1}},
		{args: []string{"down"}, json: decodeInto(func(t *testing.T, v actionJSON) {
			if v.Action != "down" || len(v.Containers) != 2 {
				t.Errorf("down --json: %+v", v)
			}
		})},
	}
	// Every command of the tree that prints is here, or is one of the exceptions.
	covered := map[string]bool{"config": true, "convert": true, "exec": true, "shell": true, "ui": true, "watch": true, /* below */
		"router": true /* router push needs a registry: TestRouterImageWithoutGo (text under NO_COLOR, --json) */}
	for _, c := range commands {
		covered[c.args[0]] = true
	}
	for _, c := range NewRootCmd(NewFactory(System())).Commands() {
		if !covered[c.Name()] {
			t.Errorf("command %s is not run by this test", c.Name())
		}
	}

	escape := regexp.MustCompile("\x1b")
	for _, c := range commands {
		name := strings.Join(c.args, " ")
		codes := c.codes
		if codes == nil {
			codes = []int{0}
		}
		okCode := func(code int) bool {
			for _, want := range codes {
				if code == want {
					return true
				}
			}
			return false
		}
		// Text, in a terminal, colour off by NO_COLOR.
		p := startInPTY(t, []string{"NO_COLOR=1"}, args(c.args...)...)
		code := p.wait(5 * time.Minute)
		out := p.output()
		if !okCode(code) {
			t.Fatalf("%s (terminal, NO_COLOR): exit %d\n%s", name, code, out)
		}
		if escape.MatchString(out) {
			t.Errorf("%s printed escape codes under NO_COLOR:\n%q", name, out)
		}
		if l := leaks(entries, out); len(l) > 0 {
			t.Errorf("%s printed secrets %q:\n%s", name, l, out)
		}
		if c.args[0] == "down" {
			continue // the JSON variant runs last, it takes the stack down
		}
		// Text through pipes, colour not turned off: stdout and stderr are not terminals,
		// so no escape code either.
		if r := runClocal(t, 5*time.Minute, []string{"NO_COLOR="}, args(c.args...)...); !okCode(r.Code) || escape.MatchString(r.Out+r.Err) {
			t.Errorf("%s (pipes): exit %d, escape codes in:\n%q\n%q", name, r.Code, r.Out, r.Err)
		} else if l := leaks(entries, r.Out+r.Err); len(l) > 0 {
			t.Errorf("%s (pipes) printed secrets %q", name, l)
		}
		// --no-color instead of NO_COLOR, for the commands that draw in colour.
		if c.args[0] == "ps" || c.args[0] == "logs" || c.args[0] == "up" || c.args[0] == "doctor" {
			p := startInPTY(t, nil, args(append([]string{"--no-color"}, c.args...)...)...)
			if code := p.wait(5 * time.Minute); !okCode(code) || escape.MatchString(p.output()) {
				t.Errorf("%s --no-color: exit %d, output:\n%q", name, code, p.output())
			}
		}
		if c.json != nil {
			r := runClocal(t, 5*time.Minute, nil, args(append(c.args, "--json")...)...)
			if !okCode(r.Code) {
				t.Fatalf("%s --json: exit %d\n%s", name, r.Code, r.Err)
			}
			c.json(t, r.Out)
			if l := leaks(entries, r.Out+r.Err); len(l) > 0 {
				t.Errorf("%s --json printed secrets %q:\n%s%s", name, l, r.Out, r.Err)
			}
		}
	}
	// watch: a rebuild that fails after printing the corpus is an event (JSON here) whose
	// error holds build.sh's last lines, masked.
	mustRun(t, t.Context(), args("up", "colorful", "--ephemeral-ports")...)
	w := startClocal(t, []string{"CLOCAL_TEST_FAIL=1"}, args("watch", "--json")...)
	w.waitOutput(`"kind":"watching"`, 2*time.Minute)
	appendFile(t, filepath.Join(root, "services", "colorful", "build.sh"), "# changed\n")
	w.waitOutput(`"kind":"build-failed"`, 5*time.Minute)
	_ = w.cmd.Process.Signal(os.Interrupt)
	w.wait(time.Minute)
	if !strings.Contains(w.out.String(), "build failed") {
		t.Errorf("the build-failed event lacks build.sh's last lines:\n%s", w.out.String())
	}
	if l := leaks(entries, w.out.String()+w.err.String()); len(l) > 0 {
		t.Errorf("watch --json printed secrets %q:\n%s", l, w.out.String())
	}

	// down --json last.
	mustRun(t, t.Context(), args("up", "colorful", "--ephemeral-ports")...)
	r = runClocal(t, 5*time.Minute, nil, args("down", "--json")...)
	if r.Code != 0 {
		t.Fatalf("down --json: %d %s", r.Code, r.Err)
	}
	commands[len(commands)-1].json(t, r.Out)
}
