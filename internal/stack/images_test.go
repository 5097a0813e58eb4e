package stack

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/registry"
)

// fakePuller records what it was asked for and fails when err is set.
type fakePuller struct {
	mu     sync.Mutex
	wants  []registry.Want
	policy registry.Policy
	err    error
}

func (f *fakePuller) Ensure(_ context.Context, wants []registry.Want, policy registry.Policy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wants = append(f.wants, wants...)
	f.policy = policy
	return f.err
}

func (f *fakePuller) images() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, w := range f.wants {
		out = append(out, w.Image)
	}
	sort.Strings(out)
	return out
}

// TestUpPullsUnbuiltImagesFirst: every service without a build runs its production image,
// which the puller gets (with the policy) before the engine sees anything; a pull failure
// leaves the engine untouched.
func TestUpPullsUnbuiltImagesFirst(t *testing.T) {
	ws := LoadFixture(t, nil)
	eng := &enginetest.Fake{}
	s := New(ws, "pulls", eng, nil, nil)
	fp := &fakePuller{err: errors.New("registry unreachable")}
	s.Puller, s.Pull = fp, registry.PullNever

	if _, err := s.Up(context.Background(), []string{"search-2"}, UpOptions{}); err == nil || err.Error() != "registry unreachable" {
		t.Fatalf("Up with a failing pull: %v", err)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Fatalf("the engine was called after a failed pull: %+v", calls)
	}
	sel, _ := ws.Resolve([]string{"search-2"})
	var want []string
	for _, name := range sel.Services {
		want = append(want, ws.Services[name].Jobs[0].Image)
	}
	sort.Strings(want)
	if got := fp.images(); !reflect.DeepEqual(got, want) || fp.policy != registry.PullNever {
		t.Fatalf("puller got %v (policy %s), want %v (never)", got, fp.policy, want)
	}

	fp.err, fp.wants = nil, nil
	if _, err := s.Up(context.Background(), []string{"search-2"}, UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(eng.CallsTo("Up")) != 1 {
		t.Fatalf("engine calls: %+v", eng.Calls())
	}
}

// TestPinsAndBases: a pinned service runs (and pulls) its pin instead of its production
// image; a built service contributes the images its Dockerfile builds on, marked as bases.
func TestPinsAndBases(t *testing.T) {
	ws := LoadFixture(t, map[string]string{
		"services/repo-manager/Dockerfile": "ARG GO=1.22\nFROM registry.corp/tools/go:${GO} AS build\nFROM build\nCOPY --from=registry.corp/tools/assets:3 /a /a\n",
	})
	s := New(ws, "pins", &enginetest.Fake{}, nil, nil)
	if err := s.SetPin("kvstore", "registry.corp/kv:2024"); err != nil {
		t.Fatal(err)
	}
	pins, err := s.Pins()
	if err != nil || pins["kvstore"].Image != "registry.corp/kv:2024" || pins["kvstore"].Since.IsZero() {
		t.Fatalf("pins = %+v, %v", pins, err)
	}
	sel, err := ws.Resolve([]string{"repo-manager"})
	if err != nil {
		t.Fatal(err)
	}
	wants, err := s.Wants(context.Background(), sel, pins)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]registry.Want{}
	for _, w := range wants {
		got[w.Image] = w
	}
	for img, base := range map[string]bool{"registry.corp/tools/go:1.22": true, "registry.corp/tools/assets:3": true, "registry.corp/kv:2024": false, "markdown:prod": false} {
		w, ok := got[img]
		if !ok || w.Base != base {
			t.Errorf("want %s (base %v) among %+v", img, base, wants)
		}
	}
	if _, ok := got["kvstore:prod"]; ok {
		t.Errorf("the production image of the pinned kvstore is wanted: %+v", wants)
	}
	if _, ok := got["repo-manager:prod"]; ok {
		t.Errorf("the production image of the built repo-manager is wanted: %+v", wants)
	}
	// update --latest: the pin is gone, and so is the file holding it.
	if err := s.SetPin("kvstore", ""); err != nil {
		t.Fatal(err)
	}
	if pins, _ := s.Pins(); len(pins) != 0 {
		t.Fatalf("pins after unpin: %+v", pins)
	}
}
