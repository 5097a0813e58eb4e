package job

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/clocal-dev/clocal/internal/job/jobpb"
)

func p(line, col int) Pos { return Pos{File: "t.job", Line: line, Col: col} }

func TestParseGoodFiles(t *testing.T) {
	article := Pos{File: "article.job"}
	at := func(l, c int) Pos { a := article; a.Line, a.Col = l, c; return a }
	v := Pos{File: "variants.job"}
	vt := func(l, c int) Pos { a := v; a.Line, a.Col = l, c; return a }
	tests := []struct {
		file string
		want []*Job
	}{
		{"article.job", []*Job{{
			Name: "repo-manager-5", Image: "repo-manager:latest", RunOnHost: "git-5",
			Envs:    []Env{{Key: "port", Value: "8866", Pos: at(5, 1)}},
			Volumes: []Volume{{ContainerPath: "/data", HostPath: "/data", Pos: at(9, 1)}},
			Pos:     at(1, 1),
		}}},
		{"variants.job", []*Job{{
			Name: "kvstore-1", Image: "kvstore:1.2", RunOnHost: "git-1",
			Envs: []Env{
				{Key: "GREETING", Value: "a\"b\n", Pos: vt(6, 3)},
				{Key: "QUOTE", Value: "it's", Pos: vt(7, 3)},
				{Key: "OCT", Value: "AB", Pos: vt(8, 10)},
				{Key: "HEX", Value: "AJ", Pos: vt(8, 44)},
				{Key: "UTF8", Value: "héllo wörld ✓ é😀", Pos: vt(9, 3)},
			},
			Volumes:    []Volume{{ContainerPath: "/data", HostPath: "/srv/data", ReadOnly: true, Pos: vt(10, 13)}},
			Command:    []string{"/app/server", "-v"},
			Args:       []string{"--port", "8866"},
			CPUs:       1.5,
			MemoryMB:   512,
			User:       "1000:1000",
			WorkingDir: "/app",
			Restart:    "always",
			Pos:        vt(2, 1),
		}, {
			Name: "Frontend-2", Image: "frontend:latest",
			Envs: []Env{{Key: "port", Value: "8080", Pos: vt(20, 50)}},
			Pos:  vt(20, 1),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/good", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, errs := ParseFile(tt.file, data)
			if len(errs) > 0 {
				t.Fatalf("errors:\n%v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

func dump(jobs []*Job) string {
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "%+v\n", *j)
	}
	return b.String()
}

// TestParseSyntax decodes every syntax variant prototext accepts.
func TestParseSyntax(t *testing.T) {
	base := func(mod func(j *Job)) []Job {
		j := Job{Name: "a", Image: "i"}
		if mod != nil {
			mod(&j)
		}
		return []Job{j}
	}
	tests := []struct {
		name, in string
		want     []Job
	}{
		{"empty file", "", nil},
		{"only comments", "# nothing\n  # here\n", nil},
		{"angle brackets", `job < name: "a" image: "i" >`, base(nil)},
		{"braces", `job { name: "a" image: "i" }`, base(nil)},
		{"colon before message", `job: { name: "a" image: "i" }`, base(nil)},
		{"colon before angle", `job: < name: "a" image: "i" >`, base(nil)},
		{"no spaces", `job{name:"a"image:"i"}`, base(nil)},
		{"separators", `job { name: "a", image: "i"; };`, base(nil)},
		{"comments everywhere", "job # c\n{ # c\n name # c\n : # c\n \"a\" # c\n image: \"i\" } # c", base(nil)},
		{"CRLF", "job {\r\n name: \"a\"\r\n image: \"i\"\r\n}\r\n", base(nil)},
		{"tabs", "job\t{\tname:\t\"a\"\timage:\t\"i\"}", base(nil)},
		{"single quotes", `job { name: 'a' image: 'i' }`, base(nil)},
		{"adjacent strings", `job { name: "a" image: "" 'i' "" }`, base(nil)},
		{"adjacent strings without space", `job { name: "a" image: ""'i'"" }`, base(nil)},
		{"adjacent strings across lines", "job { name: \"a\" image: \"\" # c\n 'i' }", base(nil)},
		{"list of jobs", `job [ { name: "a" image: "i" }, < name: "b" image: "j" > ]`,
			[]Job{{Name: "a", Image: "i"}, {Name: "b", Image: "j"}}},
		{"empty list", `job []`, nil},
		{"escapes", `job { name: "a" image: "i" user: "q\"s\'b\\n\n t\t r\r a\a b\b f\f v\v ?\?" }`,
			base(func(j *Job) { j.User = "q\"s'b\\n\n t\t r\r a\a b\b f\f v\v ??" })},
		{"escape quote in single", `job { name: "a" image: "i" user: 'it\'s "x"' }`,
			base(func(j *Job) { j.User = `it's "x"` })},
		{"octal escapes", `job { name: "a" image: "i" user: "\101\7\1234\60" }`,
			base(func(j *Job) { j.User = "A\x07S40" })},
		{"hex escapes", `job { name: "a" image: "i" user: "\x41\x4A\x7e\x9" }`,
			base(func(j *Job) { j.User = "AJ~\t" })},
		{"octal UTF-8 bytes", `job { name: "a" image: "i" user: "\303\251" }`,
			base(func(j *Job) { j.User = "é" })},
		{"unicode escapes", `job { name: "a" image: "i" user: "\u00e9\U0001F600\ud83d\ude00" }`,
			base(func(j *Job) { j.User = "é😀😀" })},
		{"UTF-8", `job { name: "a" image: "i" user: "日本語 ✓ ü" }`,
			base(func(j *Job) { j.User = "日本語 ✓ ü" })},
		{"repeated strings", `job { name: "a" image: "i" command: "x" command: ["y", 'z'] args: [] args: "1" }`,
			base(func(j *Job) { j.Command = []string{"x", "y", "z"}; j.Args = []string{"1"} })},
		{"numbers", `job { name: "a" image: "i" cpus: .5 memory_mb: 1024 }`,
			base(func(j *Job) { j.CPUs = 0.5; j.MemoryMB = 1024 })},
		{"hex and octal ints", `job { name: "a" image: "i" memory_mb: 0x10 }`,
			base(func(j *Job) { j.MemoryMB = 16 })},
		{"octal int", `job { name: "a" image: "i" memory_mb: 010 }`,
			base(func(j *Job) { j.MemoryMB = 8 })},
		{"float forms", `job { name: "a" image: "i" cpus: 2e0f }`,
			base(func(j *Job) { j.CPUs = 2 })},
		{"integer cpus", `job { name: "a" image: "i" cpus: 3 }`,
			base(func(j *Job) { j.CPUs = 3 })},
		{"bool literals", `job { name: "a" image: "i" volumes { container_path: "/a" read_only: True } volumes { container_path: "/b" read_only: t } volumes { container_path: "/c" read_only: 1 } volumes { container_path: "/d" read_only: f } }`,
			base(func(j *Job) {
				j.Volumes = []Volume{{ContainerPath: "/a", ReadOnly: true}, {ContainerPath: "/b", ReadOnly: true}, {ContainerPath: "/c", ReadOnly: true}, {ContainerPath: "/d"}}
			})},
		{"empty env value", `job { name: "a" image: "i" envs { key: "K" } envs { key: "L" value: "" } }`,
			base(func(j *Job) { j.Envs = []Env{{Key: "K"}, {Key: "L"}} })},
		{"envs last wins", `job { name: "a" image: "i" envs { key: "K" value: "1" } envs { key: "K" value: "2" } }`,
			base(func(j *Job) { j.Envs = []Env{{Key: "K", Value: "1"}, {Key: "K", Value: "2"}} })},
		{"uppercase name", `job { name: "Repo-Manager_1.x" image: "i" }`,
			[]Job{{Name: "Repo-Manager_1.x", Image: "i"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseFile("t.job", []byte(tt.in))
			if len(errs) > 0 {
				t.Fatalf("errors:\n%v", errs)
			}
			var pb jobpb.JobFile
			if err := prototext.Unmarshal([]byte(tt.in), &pb); err != nil {
				t.Fatalf("prototext refuses the test input: %v", err)
			}
			if g := noPos(got); !reflect.DeepEqual(g, append([]Job{}, tt.want...)) {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestEnvLookup(t *testing.T) {
	jobs, errs := ParseFile("t.job", []byte(`job { name: "a" image: "i" envs { key: "K" value: "1" } envs { key: "K" value: "2" } }`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if v, ok := jobs[0].Env("K"); v != "2" || !ok {
		t.Errorf("Env(K) = %q, %v", v, ok)
	}
	if _, ok := jobs[0].Env("X"); ok {
		t.Error("Env(X) found")
	}
}

func TestPositions(t *testing.T) {
	in := "# c\njob {\n  name: \"a\"\n  image: \"é\" envs { key: \"k\" }\n  volumes: <container_path: \"/x\">\n}\njob [ {name: \"b\" image: \"i\"},\n  {name: \"c\" image: \"i\"} ]\n"
	jobs, errs := ParseFile("t.job", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := []Pos{jobs[0].Pos, jobs[0].Envs[0].Pos, jobs[0].Volumes[0].Pos, jobs[1].Pos, jobs[2].Pos}
	want := []Pos{p(2, 1), p(4, 14), p(5, 3), p(7, 7), p(8, 3)} // columns count characters: é is one
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestParseErrors lists every error with its exact text.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		// Syntax: one error per file.
		{"unclosed", "job {\n name: \"a\"\n", []string{`t.job:3:1: syntax error: unexpected end of file: '{' at 1:5 is not closed`}},
		{"unclosed list", "job [", []string{`t.job:1:6: syntax error: unexpected end of file: '[' at 1:5 is not closed`}},
		{"missing value", "job { name: }", []string{`t.job:1:13: syntax error: expected a value, found "}"`}},
		{"missing value at EOF", "job { name:", []string{`t.job:1:12: syntax error: unexpected end of file: '{' at 1:5 is not closed`}},
		{"mismatched", "job { name: \"a\" >", []string{`t.job:1:17: syntax error: '>' does not close '{' opened at 1:5`}},
		{"stray close", "job { } }", []string{`t.job:1:9: syntax error: expected a field name, found "}"`}},
		{"bad field name", "job { -x: 1 }", []string{`t.job:1:7: syntax error: expected a field name, found "-x"`}},
		{"negative field number", "job { -1: 1 }", []string{`t.job:1:7: syntax error: invalid field number -1`}},
		{"float field number", "job { 1.5: 1 }", []string{`t.job:1:7: syntax error: invalid field number 1.5`}},
		{"bad name char", "job { na$me: 1 }", []string{`t.job:1:9: syntax error: expected a value, found "$"`}},
		{"double separator", "job { name: \"a\";; }", []string{`t.job:1:17: syntax error: expected a field name, found ";"`}},
		{"list trailing comma", `job [ {}, ]`, []string{`t.job:1:11: syntax error: expected a value, found "]"`}},
		{"list without comma", `job { args: ["a" "b" 1] }`, []string{`t.job:1:22: syntax error: unexpected '1' in list, want "," or "]"`}},
		{"nested list", `job { args: [[]] }`, []string{`t.job:1:14: syntax error: expected a value, found "["`}},
		{"unterminated string", `job { name: "a`, []string{`t.job:1:13: syntax error: unterminated string`}},
		{"newline in string", "job { name: \"a\n\" }", []string{`t.job:1:13: syntax error: newline in string (use \n)`}},
		{"bad escape", `job { name: "a\q" }`, []string{`t.job:1:15: syntax error: invalid escape "\\q" in string`}},
		{"bad octal", `job { name: "\400" }`, []string{`t.job:1:14: syntax error: invalid octal escape \400 in string (over \377)`}},
		{"bad hex", `job { name: "\xg" }`, []string{`t.job:1:14: syntax error: invalid hex escape \x in string (want 1 or 2 hex digits)`}},
		{"bad unicode", `job { name: "\u12" }`, []string{`t.job:1:14: syntax error: invalid Unicode escape "\\u12\" " in string`}},
		{"lone surrogate at end", `job { name: "\ud800x" }`, []string{`t.job:1:14: syntax error: unterminated string`}},
		{"lone surrogate", `job { name: "\ud800xxxxxxxx" }`, []string{`t.job:1:20: syntax error: invalid Unicode escape "xxxxxx" in string (unpaired surrogate)`}},
		{"bad number", `job { memory_mb: 12abc }`, []string{`t.job:1:18: syntax error: expected a value, found "12abc"`}},
		{"NUL byte", "job { name: \"a\x00\" }", []string{`t.job:1:15: NUL byte in file: a job file must be UTF-8 text`}},
		{"NUL in comment", "# \x00\njob {}", []string{`t.job:1:3: NUL byte in file: a job file must be UTF-8 text`}},
		{"invalid UTF-8", "job { name: \"caf\xe9\" }", []string{`t.job:1:17: invalid UTF-8 (byte 0xe9): a job file must be UTF-8 text`}},
		{"invalid UTF-8 in comment", "job {} # \xff", []string{`t.job:1:10: invalid UTF-8 (byte 0xff): a job file must be UTF-8 text`}},
		{"deep nesting", "job { x " + strings.Repeat("{ x ", 200) + strings.Repeat("}", 201) + "}", []string{`t.job:1:405: syntax error: nesting deeper than 100 levels`}},

		// Unknown fields: all of them, with suggestions.
		{"unknown fields", "job {\n nmae: \"a\"\n imgae: \"i\"\n envs { kye: \"k\" }\n volume { }\n zzz: 1\n}\njob2 {}", []string{
			// The job still decodes (unknown fields are skipped): its checks run.
			`t.job:1:1: job has no name`,
			`t.job:1:1: job has no image`,
			`t.job:2:2: unknown field "nmae" in job (did you mean "name"?)`,
			`t.job:3:2: unknown field "imgae" in job (did you mean "image"?)`,
			`t.job:4:2: env key is empty`,
			`t.job:4:9: unknown field "kye" in env (did you mean "key"?)`,
			`t.job:5:2: unknown field "volume" in job (did you mean "volumes"?)`,
			`t.job:6:2: unknown field "zzz" in job` + builtinHint,
			`t.job:8:1: unknown field "job2" in file (did you mean "job"?)`,
		}},
		{"unknown field by number", `job { 1: "a" 42: "b" }`, []string{
			`t.job:1:7: field number 1 used as a name in job: write "name"`,
			`t.job:1:14: unknown field "42" in job`,
		}},
		{"extension name", `[foo.bar] { } job { name: "a" image: "i" }`, []string{`t.job:1:1: unknown field "[foo.bar]" in file`}},

		// Types: all of them.
		{"types", "job {\n name: 1\n image: \"i\"\n cpus: \"2\"\n memory_mb: abc\n volumes { container_path: \"/a\" read_only: \"yes\" }\n}", []string{
			`t.job:2:8: invalid value 1 for field "name": want a quoted string`,
			`t.job:4:8: invalid value "2" for field "cpus": want a number`,
			`t.job:5:13: invalid value abc for field "memory_mb": want an integer`,
			`t.job:6:44: invalid value "yes" for field "read_only": want true or false`,
		}},
		{"float for int", `job { memory_mb: 1.5 }`, []string{`t.job:1:18: invalid value 1.5 for field "memory_mb": want an integer`}},
		{"int overflow", `job { memory_mb: 9223372036854775808 }`, []string{`t.job:1:18: invalid value 9223372036854775808 for field "memory_mb": want an integer`}},
		{"bool 2", `job { volumes { read_only: 2 } }`, []string{`t.job:1:28: invalid value 2 for field "read_only": want true or false`}},
		{"message for scalar", `job { name { } }`, []string{`t.job:1:7: field "name" takes a quoted string, not a message`}},
		{"message for scalar with colon", `job { name: < > }`, []string{`t.job:1:13: field "name" takes a quoted string, not a message`}},
		{"scalar for message", `job: "x"`, []string{`t.job:1:6: field "job" takes a message { ... }, found "x"`}},
		{"list for singular", `job { name: ["a"] }`, []string{`t.job:1:13: field "name" takes one value, not a list`}},
		{"scalar in message list", `job [ "x" ]`, []string{`t.job:1:7: field "job" takes a message { ... }, found "x"`}},
		{"message in scalar list", `job { args: [ {} ] }`, []string{`t.job:1:15: field "args" takes a quoted string, not a message`}},
		{"missing colon", `job { name "a" }`, []string{`t.job:1:7: missing ":" after field "name"`}},
		{"set twice", "job { name: \"a\"\n name: \"b\" }", []string{`t.job:2:2: field "name" is set twice in job (first at 1:7)`}},
		{"escaped NUL", `job { name: "a" image: "i\0" }`, []string{`t.job:1:24: string value of field "image" contains a NUL character`}},
		{"escaped invalid UTF-8", `job { name: "a" image: "\xff" }`, []string{`t.job:1:24: string value of field "image" is not valid UTF-8`}},
		{"split UTF-8 is fine but lone byte is not", `job { name: "a" image: "\xc3" "x" }`, []string{`t.job:1:24: string value of field "image" is not valid UTF-8`}},

		// Job checks.
		{"no name", `job { image: "i" }`, []string{`t.job:1:1: job has no name`}},
		{"empty name", `job { name: "" image: "i" }`, []string{`t.job:1:7: job has no name`}},
		{"no image", `job { name: "a" }`, []string{`t.job:1:1: job "a" has no image`}},
		{"empty job", `job {}`, []string{`t.job:1:1: job has no name`, `t.job:1:1: job has no image`}},
		{"bad name", `job { name: "a b" image: "i" }`, []string{`t.job:1:7: invalid job name "a b": a job name becomes a compose service name and must match ^[a-z0-9][a-z0-9_.-]*$ once lowercased`}},
		{"name starts with dot", `job { name: ".a" image: "i" }`, []string{`t.job:1:7: invalid job name ".a": a job name becomes a compose service name and must match ^[a-z0-9][a-z0-9_.-]*$ once lowercased`}},
		{"duplicate", "job { name: \"a\" image: \"i\" }\njob { name: \"a\" image: \"i\" }", []string{`t.job:2:7: duplicate job name "a" (also defined at t.job:1:1)`}},
		{"duplicate by case", "job { name: \"a\" image: \"i\" }\njob { name: \"A\" image: \"i\" }", []string{`t.job:2:7: duplicate job name "A": same service name as "a" (defined at t.job:1:1)`}},
		{"negative limits", `job { name: "a" image: "i" cpus: -0.5 memory_mb: -1 }`, []string{
			`t.job:1:28: cpus must be a finite number >= 0, not -0.5`,
			`t.job:1:39: memory_mb must not be negative, not -1`,
		}},
		{"infinite cpus", `job { name: "a" image: "i" cpus: inf }`, []string{`t.job:1:28: cpus must be a finite number >= 0, not +Inf`}},
		{"env key with =", `job { name: "a" image: "i" envs { key: "A=B" value: "c" } }`, []string{`t.job:1:35: env key "A=B" must not contain "="`}},
		{"empty env key", `job { name: "a" image: "i" envs { key: "" } }`, []string{`t.job:1:35: env key is empty`}},
		{"missing env key", `job { name: "a" image: "i" envs { value: "v" } }`, []string{`t.job:1:28: env key is empty`}},
		{"relative container path", `job { name: "a" image: "i" volumes { container_path: "data" } }`, []string{`t.job:1:38: container_path "data" must be an absolute path`}},
		{"no container path", `job { name: "a" image: "i" volumes { host_path: "/h" } }`, []string{`t.job:1:28: volume has no container_path`}},
		{"dotdot container path", `job { name: "a" image: "i" volumes { container_path: "/a/.." } }`, []string{`t.job:1:38: container_path "/a/.." must not contain ".." segments`}},
		{"dotdot host path", `job { name: "a" image: "i" volumes { container_path: "/a" host_path: "../etc" } }`, []string{`t.job:1:59: host_path "../etc" must not contain ".." segments`}},
		{"dots that are no segment", `job { name: "a" image: "i" volumes { container_path: "/a..b/..." host_path: "/x/..y" } }`, nil},

		// Many at once, sorted by position.
		{"many", "job { name: \"x y\" }\njob { image: \"i\" envs { key: \"\" } volumes { container_path: \"rel\" } }", []string{
			`t.job:1:1: job "x y" has no image`,
			`t.job:1:7: invalid job name "x y": a job name becomes a compose service name and must match ^[a-z0-9][a-z0-9_.-]*$ once lowercased`,
			`t.job:2:1: job has no name`,
			`t.job:2:25: env key is empty`,
			`t.job:2:45: container_path "rel" must be an absolute path`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := ParseFile("t.job", []byte(tt.in))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			want := tt.want
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestBadCorpus parses the hostile files of testdata/bad.
func TestBadCorpus(t *testing.T) {
	name := func(n string) string {
		return `invalid job name "` + n + `": a job name becomes a compose service name and must match ^[a-z0-9][a-z0-9_.-]*$ once lowercased`
	}
	tests := map[string][]string{
		"bad_escape.job":        {`3:12: syntax error: invalid escape "\\q" in string`},
		"deep_nesting.job":      {`4:401: syntax error: nesting deeper than 100 levels`},
		"duplicate.job":         {`3:3: duplicate job name "dup" (also defined at testdata/bad/duplicate.job:1:1)`, `6:7: duplicate job name "DUP": same service name as "dup" (defined at testdata/bad/duplicate.job:1:1)`},
		"env_keys.job":          {`4:10: env key "A=B" must not contain "="`, `5:10: env key is empty`, `6:3: env key is empty`},
		"escaped_nul.job":       {`1:29: string value of field "image" contains a NUL character`, `2:30: string value of field "image" is not valid UTF-8`},
		"huge_unterminated.job": {`4:28: syntax error: unterminated string`},
		"invalid_utf8.job":      {`3:8: invalid UTF-8 (byte 0xe9): a job file must be UTF-8 text`},
		"list_errors.job":       {`1:33: syntax error: expected a value, found "]"`},
		"mismatch.job":          {`4:1: syntax error: '>' does not close '{' opened at 1:5`},
		"missing.job": {
			`1:1: job has no name`,
			`2:1: job "no-image" has no image`,
			`3:1: job has no name`,
			`3:1: job has no image`,
			`4:28: volume has no container_path`,
			`4:66: container_path "rel/path" must be an absolute path`,
			`5:33: cpus must be a finite number >= 0, not -1`,
			`5:42: memory_mb must not be negative, not -5`,
			`6:30: cpus must be a finite number >= 0, not NaN`,
		},
		"newline_in_string.job": {`2:9: syntax error: newline in string (use \n)`},
		"nul.job":               {`1:17: NUL byte in file: a job file must be UTF-8 text`},
		"path_traversal.job": {
			`4:13: container_path "/app/../../root" must not contain ".." segments`,
			`4:47: host_path "/data/../../etc" must not contain ".." segments`,
			`5:35: host_path "..\\windows" must not contain ".." segments`,
		},
		"service_names.job": {`1:7: ` + name("My Job"), `2:7: ` + name("-lead"), `3:7: ` + name("café"), `5:7: ` + name("a/b")},
		"types.job": {
			`3:10: invalid value 5 for field "image": want a quoted string`,
			`4:45: invalid value "yes" for field "read_only": want true or false`,
			`5:14: invalid value abc for field "memory_mb": want an integer`,
			`6:9: invalid value "2" for field "cpus": want a number`,
			`7:13: invalid value 1 for field "command": want a quoted string`,
			`7:16: invalid value 2 for field "command": want a quoted string`,
			`8:9: field "envs" takes a message { ... }, found "x"`,
			`9:3: field "name" is set twice in job (first at 2:3)`,
			`10:3: field "user" takes a quoted string, not a message`,
			`11:3: missing ":" after field "run_on_host"`,
		},
		"unclosed.job": {`4:1: syntax error: unexpected end of file: '{' at 1:5 is not closed`},
		"unknown_fields.job": {
			`1:1: unknown field "jobs" in file (did you mean "job"?)`,
			`5:3: unknown field "nmae" in job (did you mean "name"?)`,
			`7:3: unknown field "Name" in job (did you mean "name"?)`,
			`8:19: unknown field "vaule" in env (did you mean "value"?)`,
			`9:34: unknown field "hostpath" in volume (did you mean "host_path"?)`,
			`9:49: unknown field "readonly" in volume (did you mean "read_only"?)`,
			`10:3: unknown field "memory" in job (did you mean "memory_mb"?)`,
			`11:3: unknown field "totally_unrelated" in job` + builtinHint,
			`12:3: unknown field "[ext.field]" in job`,
			`13:3: unknown field "99" in job`,
			`14:3: field number 1 used as a name in job: write "name"`,
		},
	}
	files, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in testdata/bad, %d in the table", len(files), len(tests))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, ok := tests[filepath.Base(file)]
			if !ok {
				t.Fatal("no expected errors in the table")
			}
			for i := range want {
				want[i] = file + ":" + want[i]
			}
			_, err := LoadPaths([]string{file})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %v is no ErrorList", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestHugeFiles(t *testing.T) {
	// A 10 MB file with one huge value parses.
	big := []byte(`job { name: "big" image: "i" envs { key: "K" value: "` + strings.Repeat("v", 10<<20) + `" } }`)
	jobs, errs := ParseFile("big.job", big)
	if len(errs) > 0 || len(jobs) != 1 || len(jobs[0].Envs[0].Value) != 10<<20 {
		t.Fatalf("10 MB value: %d jobs, %v", len(jobs), errs)
	}
	// A whole file on one line: positions stay cheap.
	gen := string(Generate(2000, 10))
	gen = gen[strings.IndexByte(gen, '\n'):] // drop the comment line
	oneLine := []byte(strings.ReplaceAll(gen, "\n", " "))
	if jobs, errs := ParseFile("line.job", oneLine); len(errs) > 0 || len(jobs) != 2000 {
		t.Fatalf("one line: %d jobs, %v", len(jobs), errs)
	}

	// Over MaxFileSize: a file-level error, from ParseFile and LoadPaths.
	huge := make([]byte, MaxFileSize+1)
	for i := range huge {
		huge[i] = ' '
	}
	_, errs = ParseFile("huge.job", huge)
	want := "huge.job: file is too big: 16777217 bytes, over the 16 MiB limit"
	if errs.Error() != want {
		t.Errorf("ParseFile: %v, want %s", errs, want)
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "huge.job")
	if err := os.WriteFile(name, huge, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPaths([]string{name})
	if want := name + ": file is too big: 16777217 bytes, over the 16 MiB limit"; err == nil || err.Error() != want {
		t.Errorf("LoadPaths: %v, want %s", err, want)
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func job(name string) string { return `job { name: "` + name + `" image: "i" }` + "\n" }

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.job", job("b"))
	write(t, dir, "a.jobs", job("a1")+job("a2"))
	write(t, dir, "sub/c.textproto", job("c"))
	write(t, dir, "sub/deeper/d.txtpb", job("d"))
	write(t, dir, "e.pb.txt", job("e"))
	write(t, dir, "README.md", "not a job file")
	write(t, dir, "x.txt", "not a job file")
	write(t, dir, ".hidden.job", job("hidden1"))
	write(t, dir, ".git/f.job", job("hidden2"))
	write(t, dir, ".job", job("hidden3"))
	other := write(t, t.TempDir(), "explicit.conf", job("explicit"))
	if err := os.Symlink(filepath.Join(dir, "b.job"), filepath.Join(dir, "sub", "link.job")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "z/target.job.bak", job("z"))
	if err := os.Symlink(filepath.Join(dir, "z"), filepath.Join(dir, "zz.job")); err != nil { // a link to a folder
		t.Fatal(err)
	}

	// The folder twice and one of its files again: each file read once;
	// but sub/link.job is another path to b.job: a duplicate.
	jobs, err := LoadPaths([]string{dir, other, dir, filepath.Join(dir, "b.job")})
	var names []string
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	if want := []string{"a1", "a2", "b", "e", "c", "d", "b", "explicit"}; !reflect.DeepEqual(names, want) {
		t.Errorf("jobs %v, want %v", names, want)
	}
	wantErr := filepath.Join(dir, "sub/link.job") + `:1:7: duplicate job name "b" (also defined at ` + filepath.Join(dir, "b.job") + ":1:1)"
	if err == nil || err.Error() != wantErr {
		t.Errorf("err %v, want %s", err, wantErr)
	}
	if jobs[1].Pos.File != filepath.Join(dir, "a.jobs") || jobs[1].Pos.Line != 2 {
		t.Errorf("pos %v", jobs[1].Pos)
	}
}

func TestLoadPathsDuplicatesAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.job", job("x")+job("y"))
	b := write(t, dir, "b.job", "# other\n\n"+job("y"))
	c := write(t, dir, "c.job", job("nope")+"job { nmae: \"q\" }\n")
	_, err := LoadPaths([]string{b, a, c})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err %v is no ErrorList", err)
	}
	want := a + `:2:7: duplicate job name "y" (also defined at ` + b + ":3:1)\n" +
		c + ":2:1: job has no name\n" +
		c + ":2:1: job has no image\n" +
		c + `:2:7: unknown field "nmae" in job (did you mean "name"?)`
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestLoadPathsErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadPaths([]string{filepath.Join(dir, "missing")})
	if want := "open " + filepath.Join(dir, "missing") + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err %v is not fs.ErrNotExist", err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Errorf("an I/O error is an ErrorList")
	}
	// An empty folder, an empty file: no jobs, no error.
	write(t, dir, "empty.job", "")
	jobs, err := LoadPaths([]string{dir})
	if len(jobs) != 0 || err != nil {
		t.Errorf("empty: %v, %v", jobs, err)
	}
	jobs, err = LoadPaths(nil)
	if len(jobs) != 0 || err != nil {
		t.Errorf("nothing: %v, %v", jobs, err)
	}
	if os.Getuid() != 0 { // root reads anything
		unreadable := write(t, dir, "secret.job", job("s"))
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPaths([]string{dir}); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreadable: %v", err)
		}
	}
}

func TestErrorListFormat(t *testing.T) {
	l := ErrorList{
		{Pos: Pos{File: "a.job", Line: 1, Col: 2}, Msg: "one"},
		{Pos: Pos{File: "b.job"}, Msg: "file-level"},
	}
	if got, want := l.Error(), "a.job:1:2: one\nb.job: file-level"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if ErrorList(nil).Err() != nil {
		t.Error("empty list is an error")
	}
}

func TestProtoError(t *testing.T) {
	pt := &posTable{file: "t.job", data: []byte("job {\n  x: 1\n"), src: "job {\n  x: 1\n"}
	var pb jobpb.JobFile
	tests := []struct{ in, want string }{
		{"job {\n  x: 1\n}", `t.job:2:3: unknown field: x`},
		{"job {\n  name: 1\n}", `t.job:2:9: invalid value for string type: 1`},
		{"job { name: \"a\" >", `t.job:1:17: syntax error: mismatched close character '>'`},
		{"job {\n  name: \"a\"\n", `t.job:3:1: syntax error: unexpected end of file`},
	}
	for _, tt := range tests {
		err := prototext.Unmarshal([]byte(tt.in), &pb)
		if err == nil {
			t.Fatalf("%q: no error", tt.in)
		}
		pt.data, pt.src, pt.lines, pt.lastLine = []byte(tt.in), tt.in, nil, 0
		if got := protoError(pt, err).Error(); got != tt.want {
			t.Errorf("%q: got %q, want %q (from %q)", tt.in, got, tt.want, err)
		}
	}
}

func TestGenerate(t *testing.T) {
	a, b := Generate(300, 7), Generate(300, 7)
	if string(a) != string(b) {
		t.Fatal("Generate is not deterministic")
	}
	jobs, errs := ParseFile("gen.job", a)
	if len(errs) > 0 {
		t.Fatalf("Generate makes invalid jobs: %v", errs)
	}
	if len(jobs) != 300 {
		t.Fatalf("%d jobs", len(jobs))
	}
	hosts := map[string]bool{}
	ports := map[string]bool{}
	addrs := 0
	for _, j := range jobs {
		hosts[j.RunOnHost] = true
		port, ok := j.Env("port")
		if !ok {
			t.Fatalf("%s has no port", j.Name)
		}
		if hp := j.RunOnHost + ":" + port; ports[hp] {
			t.Errorf("port %s used twice", hp)
		} else {
			ports[hp] = true
		}
		for _, e := range j.Envs {
			if strings.HasSuffix(e.Key, "_addr") {
				addrs++
			}
		}
	}
	if len(hosts) != 7 {
		t.Errorf("%d hosts, want 7", len(hosts))
	}
	// Every addr points at a port some job listens on.
	for _, j := range jobs {
		for _, e := range j.Envs {
			if strings.HasSuffix(e.Key, "_addr") && !ports[e.Value] {
				t.Errorf("%s: %s=%s points at no job", j.Name, e.Key, e.Value)
			}
		}
	}
	if addrs < 299 {
		t.Errorf("%d addr envs", addrs)
	}
	if n := len(Generate(0, 0)); n == 0 {
		t.Error("Generate(0, 0) is empty")
	}
	if _, errs := ParseFile("g.job", Generate(3, 0)); len(errs) > 0 {
		t.Error(errs)
	}
}

// builtinHint follows the first unknown field without a suggestion in a file read with the
// built-in schema.
const builtinHint = ` (clocal read it with its built-in schema; if production's .proto defines this field, name that .proto in clocal.yaml: schema: {proto: path/to/job.proto, message: package.JobFile})`
