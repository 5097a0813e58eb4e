package cli

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestSecondsOrDurationFlag(t *testing.T) {
	cases := []struct {
		arg     string
		want    time.Duration
		wantErr bool
	}{
		{"", 10 * time.Second, false}, // default
		{"1", time.Second, false},
		{"0", 0, false},
		{"2.5", 2500 * time.Millisecond, false},
		{"30s", 30 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"-1", 0, true},
		{"-3s", 0, true},
		{"soon", 0, true},
	}
	for _, c := range cases {
		t.Run(c.arg, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			fs.SetOutput(&testWriter{t})
			var d time.Duration
			durationFlag(fs, &d, "timeout", "t", 10*time.Second, "graceful stop timeout")
			var args []string
			if c.arg != "" {
				args = []string{"-t", c.arg}
			}
			err := fs.Parse(args)
			if (err != nil) != c.wantErr {
				t.Fatalf("parse %q: err %v, want error %v", c.arg, err, c.wantErr)
			}
			if err == nil && d != c.want {
				t.Errorf("parse %q = %s, want %s", c.arg, d, c.want)
			}
		})
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
