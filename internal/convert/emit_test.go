package convert

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/job"
	"github.com/clocal-dev/clocal/internal/workspace"
	"gopkg.in/yaml.v3"
)

var trickyStrings = []string{
	"", " ", "a b", "a  b", "a #b", "a#b", "a: b", "a:b", "a:", ":a", "-", "- a", "-a", "?", "? a",
	"true", "True", "TRUE", "false", "yes", "No", "on", "OFF", "y", "N", "null", "Null", "~",
	"0", "8866", "-1", "+1", "1.5", ".5", "1e3", "1E+3", "0x1F", "0o17", "017", "0b101", "1_000",
	"12:30", "1:20:30", "1000:1000", "190:20:30.15", ".inf", "-.INF", ".nan", "2001-12-14",
	"2001-12-14t21:59:43.10-05:00", "1s", "5m", "10m", "1d", "127.0.0.1:8866:8866", "127.0.0.1::8866",
	"@at", "a@b", "&a", "*a", "!tag", "%p", "|", ">", "'", "\"", "a'b", "a\"b", "a\\b", "{}", "[]",
	"a,b", "a, b", "a\nb", "a\tb", "\x00\x01\x7f", "h\u00e9llo \"w\u00f6rld\"\n", "\u2028\u0085\ufeff",
	"pa$$word $${HOME}", "=", "<<", "a=b", "/data", "./x", "git-1_data:/data:ro", "service:host-x",
	"-Xmx512m -Dfile.encoding=UTF-8", "http://git-1:8866/x?a=b#c", "\xff\xfe",
}

// TestScalarRoundTrip: every string reads back as itself with yaml.v3 (YAML 1.2, compose-go)
// and, when python3-yaml is installed, with PyYAML (YAML 1.1, docker-compose v1).
func TestScalarRoundTrip(t *testing.T) {
	var doc strings.Builder
	for _, s := range trickyStrings {
		if strings.ContainsRune(s, 0xFFFD) || !validUTF8(s) {
			continue
		}
		line := "k: " + scalar(s) + "\n"
		var m map[string]any
		if err := yaml.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("%q -> %s: %v", s, line, err)
			continue
		}
		if got, ok := m["k"].(string); !ok || got != s {
			t.Errorf("%q -> %s reads back as %#v", s, strings.TrimSpace(line), m["k"])
		}
		doc.WriteString("- " + scalar(s) + "\n")
	}
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import yaml").Run() != nil {
		t.Log("python3-yaml missing: YAML 1.1 check skipped")
		return
	}
	cmd := exec.Command(py, "-c", "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))")
	cmd.Stdin = strings.NewReader(doc.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyYAML: %v", err)
	}
	var got []any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, s := range trickyStrings {
		if strings.ContainsRune(s, 0xFFFD) || !validUTF8(s) {
			continue
		}
		if g, ok := got[i].(string); !ok || g != s {
			t.Errorf("PyYAML reads %s as %#v, want %q", scalar(s), got[i], s)
		}
		i++
	}
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestEmitterMatchesYAMLv3: the hand emitter and yaml.v3 give the same document.
func TestEmitterMatchesYAMLv3(t *testing.T) {
	jobs := loadJobs(t, "testdata/jobs")
	gen, errs := job.ParseFile("gen.job", job.Generate(300, 40))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ws := loadWS(t, fixtureWS)
	var plans []*Plan
	for _, js := range [][]*job.Job{jobs, gen} {
		p, err := FromJobs(js, Options{})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	p, err := FromWorkspace(ws, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plans = append(plans, p)
	// every tricky string as an env value, a label and a command argument
	// (invalid UTF-8 excluded: package job rejects it, and yaml.v3 would write !!binary)
	var valid []string
	for _, s := range trickyStrings {
		if validUTF8(s) {
			valid = append(valid, s)
		}
	}
	tricky := &unit{name: "tricky", local: "tricky", jobs: []*job.Job{{Name: "tricky", Image: "x", Args: valid}}, env: map[string]string{}}
	for i, s := range valid {
		tricky.env[strings.Repeat("K", i+1)] = s
	}
	tws, err := workspace.FromJobs(tricky.jobs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err = build(tws, []*unit{tricky}, Options{PullPolicy: "never", BindAddress: "127.0.0.1", Log: workspace.LogConfig{MaxSize: "10m", MaxFile: 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plans = append(plans, p)
	for i, p := range plans {
		mine, _ := p.YAML()
		ref, err := p.yamlV3()
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := yaml.Unmarshal(mine, &a); err != nil {
			t.Fatalf("plan %d: emitter output does not parse: %v", i, err)
		}
		if err := yaml.Unmarshal(ref, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("plan %d: emitter and yaml.v3 disagree:\n%s", i, diffLines(string(ref), string(mine)))
		}
	}
}
