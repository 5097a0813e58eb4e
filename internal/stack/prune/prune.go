// Package prune finds and tears down stale clocal stacks: the leftovers of killed test runs
// (their owner process, recorded in labels, is gone) and stacks with no running container
// that nothing touched for a grace period.
//
// Like package gc it works in three steps: inventory.Collect reads the daemon, [Decide] is the pure
// planner (unit-tested with fixed inputs and a fake process table), [Apply] tears the stale
// stacks down through the engine, each under its project lock (a stack another clocal
// process holds is in use, hence not stale: it is skipped). Compose projects clocal did not
// create are never touched.
package prune

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/stack/inventory"
)

// Engine is what prune needs of the compose engine to tear a stack down.
type Engine interface {
	Down(ctx context.Context, project string, o engine.DownOptions) error
}

// Stack is a compose project found on the daemon (inventory.Collect).
type Stack = inventory.Stack

// Policy says what is stale.
type Policy struct {
	// Grace protects stacks without an owner process: they are stale only when nothing of
	// them was created for this long (an up in progress has created-but-not-started
	// containers, which must not be mistaken for leftovers).
	Grace time.Duration
	// Volumes also removes the named volumes of every stale stack (those of killed test
	// runs go anyway: their own teardown would have removed them).
	Volumes bool
	// Hostname is this machine's: owner labels of another machine are not ours to judge.
	Hostname string
	Now      time.Time
	// Alive reports whether the owner process (pid, start time as recorded) still runs
	// (stack.OwnerAlive in production).
	Alive func(pid int, start string) bool
}

// Verdict is a stale stack and what to do with it.
type Verdict struct {
	Project       string `json:"project"`
	Reason        string `json:"reason"`
	RemoveVolumes bool   `json:"remove_volumes"`
	WorkingDir    string `json:"workspace,omitempty"`
}

// Decide is the planner: the stale ones among stacks, sorted by name.
func Decide(stacks []Stack, p Policy) []Verdict {
	out := []Verdict{}
	for _, s := range stacks {
		if !inventory.IsClocal(s) {
			continue
		}
		if len(s.Containers) == 0 && len(s.Networks) == 0 && !p.Volumes {
			continue // only named volumes left: they go with -v only
		}
		reason, ownerGone := staleReason(s.Containers, p.Hostname, s.LastCreated, p.Now, p.Grace, p.Alive)
		if reason == "" {
			continue
		}
		out = append(out, Verdict{Project: s.Name, Reason: reason, RemoveVolumes: p.Volumes || ownerGone, WorkingDir: s.WorkingDir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// staleReason says why a clocal project is stale ("" = not stale). ownerGone is true for
// the leftovers of a killed test run.
func staleReason(ctrs []container.Summary, hostname string, lastTouched, now time.Time, grace time.Duration, alive func(pid int, start string) bool) (reason string, ownerGone bool) {
	// An owner process recorded on this host decides: alive keeps the stack whatever the
	// state of its containers (it may be in the middle of its up), gone makes it stale.
	// Any live owner keeps it: a new run's up over the leftovers of a killed one (same
	// project name) has created some containers with its own labels, not all yet.
	gone := 0
	for _, c := range ctrs {
		pid, err := strconv.Atoi(c.Labels[labels.OwnerPID])
		if err != nil || c.Labels[labels.OwnerHost] != hostname {
			continue
		}
		if alive(pid, c.Labels[labels.OwnerStart]) {
			return "", false
		}
		if gone == 0 {
			gone = pid
		}
	}
	if gone != 0 {
		return fmt.Sprintf("owner process %d is gone", gone), true
	}
	for _, c := range ctrs {
		if c.State == container.StateRunning || c.State == container.StateRestarting || c.State == container.StatePaused {
			return "", false
		}
	}
	if now.Sub(lastTouched) < grace {
		return "", false // maybe an up in progress
	}
	if len(ctrs) == 0 {
		return "only networks/volumes left", false
	}
	return "no running container", false
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// Timeout bounds the graceful stop of each stack's containers.
	Timeout time.Duration
	// Workspace is where to forget the state of stacks whose own workspace is not known
	// (only networks and volumes left): the current workspace, or "".
	Workspace string
}

// Outcome is what Apply did with one verdict.
type Outcome struct {
	Verdict
	Removed bool   `json:"removed"`
	Error   string `json:"error,omitempty"`
	// Busy is true when another clocal process held the stack's lock: in use, skipped.
	Busy bool `json:"busy,omitempty"`
}

// ErrBusy is the error of a stack skipped because another clocal process holds its lock.
var ErrBusy = errors.New("in use: another clocal process holds its project lock")

// Apply tears the stale stacks down (containers, networks, anonymous volumes; named volumes
// when the verdict says so), each under its project lock, and forgets their state.
func Apply(ctx context.Context, eng Engine, verdicts []Verdict, o ApplyOptions) []Outcome {
	out := make([]Outcome, 0, len(verdicts))
	for _, v := range verdicts {
		oc := Outcome{Verdict: v}
		root := v.WorkingDir
		if root == "" {
			root = o.Workspace
		}
		unlock, ok, err := stack.TryLockProjectAt(root, v.Project)
		switch {
		case err != nil:
			oc.Error = err.Error()
		case !ok:
			oc.Busy, oc.Error = true, ErrBusy.Error()
		default:
			timeout := o.Timeout
			err = eng.Down(ctx, v.Project, engine.DownOptions{RemoveOrphans: true, Volumes: v.RemoveVolumes, Timeout: &timeout})
			if err != nil {
				oc.Error = err.Error()
			} else {
				oc.Removed = true
				stack.RemoveStateAt(root, v.Project)
			}
			unlock()
		}
		out = append(out, oc)
	}
	return out
}
