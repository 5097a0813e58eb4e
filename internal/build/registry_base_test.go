//go:build unix

package build_test

import (
	"context"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// TestBaseFromRegistry: a Dockerfile FROM an image that only the registry has builds (the
// base is pulled first, with both builders); the base's image ID is part of the content
// hash, so the same tag moved in the registry (and pulled again) rebuilds, an unchanged
// one does not.
func TestBaseFromRegistry(t *testing.T) {
	cli := testutil.RequireDocker(t)
	forBackends(t, func(t *testing.T, backend string) {
		reg := testutil.StartRegistry(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		push := func(content string) string {
			src := testutil.RandName("clocaltest/base:")
			must(t, testutil.ImportImage(ctx, cli, src, map[string]string{"etc/base": content}))
			ref := reg.Push(t, cli, src, "base/run:1")
			must(t, testutil.RemoveImage(ctx, cli, src))
			return ref
		}
		base := push("v1-" + nonce(t))
		t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), cli, base) })

		s := service(t, "regbase", map[string]string{
			"Dockerfile": "FROM " + base + "\nCOPY app /app\n",
			"app":        nonce(t),
		})
		b, out := newBuilder(t, cli)
		b.Backend = backend
		puller := &registry.Puller{Docker: cli, Out: out, Remote: &registry.Remote{}}
		var pulled [][]string
		b.PullBases = func(ctx context.Context, service string, refs []string) error {
			pulled = append(pulled, refs)
			var wants []registry.Want
			for _, r := range refs {
				wants = append(wants, registry.Want{Image: r, For: []string{"base of " + service}, Base: true})
			}
			return puller.Ensure(ctx, wants, registry.PullMissing)
		}

		first, err := b.Ensure(ctx, s, false)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		removeImage(t, cli, first.Image)
		if !first.Built || len(pulled) != 1 || pulled[0][0] != base {
			t.Fatalf("first build: built %v, pulled %v\n%s", first.Built, pulled, out)
		}
		if h, err := b.Hash(s); err != nil || h != first.Hash {
			t.Fatalf("Hash = %s, %v; Ensure used %s", h, err, first.Hash)
		}

		again, err := b.Ensure(ctx, s, false)
		if err != nil || again.Built || again.Hash != first.Hash {
			t.Fatalf("unchanged base: built %v, hash %s (was %s), %v", again.Built, again.Hash, first.Hash, err)
		}

		// The tag moves in the registry; the stack's pull step (Base: true) fetches it.
		push("v2-" + nonce(t))
		must(t, puller.Ensure(ctx, []registry.Want{{Image: base, Base: true}}, registry.PullMissing))
		moved, err := b.Ensure(ctx, s, false)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		removeImage(t, cli, moved.Image)
		if !moved.Built || moved.Hash == first.Hash {
			t.Fatalf("moved base tag: built %v, hash %s (was %s)", moved.Built, moved.Hash, first.Hash)
		}
		if len(pulled) != 1 {
			t.Fatalf("PullBases called again for a present base: %v", pulled)
		}
	})
}
