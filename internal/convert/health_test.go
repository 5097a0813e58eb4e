package convert

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func TestHealthPolicy(t *testing.T) {
	example := &workspace.Healthcheck{Test: []string{"CMD", "/app/x", "-healthcheck"}, Interval: "1s", Timeout: "10s", Retries: 60}
	for _, tc := range []struct {
		name      string
		policy    HealthPolicy
		in        *workspace.Healthcheck
		want      composeHealthcheck
		readiness string
	}{
		{
			name:      "engine 20.10: slow Docker probes, clocal probes readiness",
			in:        example,
			want:      composeHealthcheck{Test: []string{"CMD", "/app/x", "-healthcheck"}, Interval: "2m0s", Timeout: "10s", Retries: 3, StartPeriod: "1m0s"},
			readiness: "interval=1s timeout=10s retries=60 start_period=0s",
		},
		{
			name:      "API 1.44+: start_interval at the service file's interval",
			policy:    HealthPolicy{StartInterval: true},
			in:        example,
			want:      composeHealthcheck{Test: []string{"CMD", "/app/x", "-healthcheck"}, Interval: "2m0s", Timeout: "10s", Retries: 3, StartPeriod: "1m0s", StartInterval: "1s"},
			readiness: "interval=1s timeout=10s retries=60 start_period=0s",
		},
		{
			name:      "idle interval set; start period added to the budget",
			policy:    HealthPolicy{Idle: 30 * time.Second},
			in:        &workspace.Healthcheck{Test: []string{"curl -f localhost"}, Interval: "500ms", Retries: 4, StartPeriod: "10s"},
			want:      composeHealthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}, Interval: "30s", Retries: 3, StartPeriod: "12s"},
			readiness: "interval=500ms timeout=0s retries=4 start_period=10s",
		},
		{
			name:      "no interval or retries: 1 s readiness probes, Docker's 3 retries",
			in:        &workspace.Healthcheck{Test: []string{"CMD", "true"}},
			want:      composeHealthcheck{Test: []string{"CMD", "true"}, Interval: "2m0s", Retries: 3, StartPeriod: "3s"},
			readiness: "interval=1s timeout=0s retries=3 start_period=0s",
		},
		{
			name:      "a service file slower than the idle interval keeps its interval",
			in:        &workspace.Healthcheck{Test: []string{"CMD", "true"}, Interval: "5m", Retries: 1},
			want:      composeHealthcheck{Test: []string{"CMD", "true"}, Interval: "5m0s", Retries: 1, StartPeriod: "5m0s"},
			readiness: "interval=5m0s timeout=0s retries=1 start_period=0s",
		},
		{
			name:   "as declared",
			policy: HealthPolicy{AsDeclared: true},
			in:     example,
			want:   composeHealthcheck{Test: []string{"CMD", "/app/x", "-healthcheck"}, Interval: "1s", Timeout: "10s", Retries: 60},
		},
		{
			name: "NONE disables the image's healthcheck: nothing to probe",
			in:   &workspace.Healthcheck{Test: []string{"NONE"}},
			want: composeHealthcheck{Test: []string{"NONE"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, readiness := tc.policy.render(tc.in)
			if !reflect.DeepEqual(*got, tc.want) || readiness != tc.readiness {
				t.Errorf("render = %+v, %q\nwant     %+v, %q", *got, readiness, tc.want, tc.readiness)
			}
			if readiness == "" {
				return
			}
			r, err := ParseReadiness(readiness)
			if err != nil || r.String() != readiness {
				t.Errorf("ParseReadiness(%q) = %v, %v", readiness, r, err)
			}
		})
	}
	for _, bad := range []string{"", "interval", "interval=x", "retries=2", "interval=0s"} {
		if _, err := ParseReadiness(bad); err == nil {
			t.Errorf("ParseReadiness(%q) accepted", bad)
		}
	}
	if r, err := ParseReadiness("interval=2s retries=5 future=1"); err != nil || r.Interval != 2*time.Second || r.Retries != 5 || r.Budget() != 10*time.Second {
		t.Errorf("unknown keys must be skipped: %+v, %v", r, err)
	}
}

// TestHealthPolicyLoads: both variants load through compose-go (start_interval needs a
// start_period there) with the values Docker gets.
func TestHealthPolicyLoads(t *testing.T) {
	ws := loadWS(t, "../../")
	sel, err := ws.Resolve([]string{"repo-manager"})
	if err != nil {
		t.Fatal(err)
	}
	for _, hp := range []HealthPolicy{{}, {StartInterval: true}} {
		plan, err := FromWorkspace(ws, sel, Options{Health: hp})
		if err != nil {
			t.Fatal(err)
		}
		y, err := plan.YAML()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Load(context.Background(), y, "health", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h := p.Services["kvstore"].HealthCheck
		if h == nil || h.Interval == nil || time.Duration(*h.Interval) != DefaultIdleInterval || h.StartPeriod == nil || time.Duration(*h.StartPeriod) != time.Minute {
			t.Fatalf("kvstore healthcheck after loading: %+v", h)
		}
		if got := h.StartInterval != nil; got != hp.StartInterval {
			t.Errorf("StartInterval %v: loaded start_interval %v", hp.StartInterval, h.StartInterval)
		}
		if _, err := ParseReadiness(p.Services["kvstore"].Labels[labels.Readiness]); err != nil {
			t.Errorf("kvstore readiness label: %v", err)
		}
	}
}
