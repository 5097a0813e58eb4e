package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// secondsOrDuration is a duration flag that also takes a bare number of seconds, the way
// `docker compose down -t 5` and `docker stop -t 5` do, so compose habits keep working.
type secondsOrDuration struct{ d *time.Duration }

func (v secondsOrDuration) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v secondsOrDuration) Set(s string) error {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("negative duration %q", s)
		}
		*v.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither a duration (10s, 1m30s) nor a number of seconds", s)
	}
	if d < 0 {
		return fmt.Errorf("negative duration %q", s)
	}
	*v.d = d
	return nil
}

func (secondsOrDuration) Type() string { return "duration" }

// durationFlag defines a flag like pflag's DurationVarP that also accepts seconds.
func durationFlag(fs *pflag.FlagSet, p *time.Duration, name, short string, def time.Duration, usage string) {
	*p = def
	fs.VarP(secondsOrDuration{p}, name, short, usage+" (a duration like 30s, or seconds)")
}
