package prune

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clocal-dev/clocal/internal/labels"
)

func TestStaleReason(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	alive := func(pid int, start string) bool { return pid == 100 && (start == "" || start == "77") }
	owned := func(pid, state string) container.Summary {
		return container.Summary{State: state, Labels: map[string]string{labels.OwnerPID: pid, labels.OwnerHost: "h"}}
	}
	ownedSince := func(pid, start, state string) container.Summary {
		c := owned(pid, state)
		c.Labels[labels.OwnerStart] = start
		return c
	}
	plain := func(state string) container.Summary {
		return container.Summary{State: state, Labels: map[string]string{}}
	}
	cases := []struct {
		name      string
		ctrs      []container.Summary
		host      string
		age       time.Duration
		want      string
		ownerGone bool
	}{
		{"owner alive, mid-up (created)", []container.Summary{owned("100", "created")}, "h", time.Hour, "", false},
		{"owner gone", []container.Summary{owned("200", "running")}, "h", 0, "owner process 200 is gone", true},
		{"owner alive, same start", []container.Summary{ownedSince("100", "77", "running")}, "h", time.Hour, "", false},
		{"owner's PID reused by a later process", []container.Summary{ownedSince("100", "12", "running")}, "h", 0, "owner process 100 is gone", true},
		{"owner on another host is ignored, running", []container.Summary{owned("200", "running")}, "other", time.Hour, "", false},
		{"running, no owner", []container.Summary{plain("running"), plain("exited")}, "h", time.Hour, "", false},
		{"stopped, recent: maybe an up in progress", []container.Summary{plain("created")}, "h", time.Minute, "", false},
		{"stopped, old", []container.Summary{plain("exited")}, "h", time.Hour, "no running container", false},
		{"nothing but a network, old", nil, "h", time.Hour, "only networks/volumes left", false},
		// An up in progress: its network is created first, then its containers one by one
		// (created, not started yet), each with the owner's labels.
		{"up in progress: network just created, no container yet", nil, "h", time.Second, "", false},
		{"up in progress: containers created, owner alive, network old", []container.Summary{owned("100", "created"), owned("100", "created")}, "h", time.Hour, "", false},
		{"up in progress over a killed run's leftovers (same project)", []container.Summary{owned("200", "exited"), owned("100", "created")}, "h", time.Hour, "", false},
		{"up in progress over a killed run's leftovers, listed first", []container.Summary{owned("100", "created"), owned("200", "exited")}, "h", time.Hour, "", false},
		{"a developer's up in progress (no owner labels)", []container.Summary{plain("created"), plain("created")}, "h", time.Second, "", false},
		{"two owners, both gone", []container.Summary{owned("200", "exited"), owned("300", "exited")}, "h", 0, "owner process 200 is gone", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, gone := staleReason(c.ctrs, c.host, now.Add(-c.age), now, 10*time.Minute, alive)
			if got != c.want || gone != c.ownerGone {
				t.Errorf("staleReason = %q, %v; want %q, %v", got, gone, c.want, c.ownerGone)
			}
		})
	}
}
