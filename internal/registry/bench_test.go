package registry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// BenchmarkEnsurePresent is the pull step of an up where every image is present (the common
// case): one inspect per distinct image, nothing pulled. 60 is a 60-service stack's
// closure; 1000 a whole generated fleet.
//
//	go test ./internal/registry -run '^$' -bench EnsurePresent -count 5
func BenchmarkEnsurePresent(b *testing.B) {
	cli := testutil.RequireDocker(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	src := testutil.RandName("clocaltest/present:")
	if err := testutil.ImportImage(ctx, cli, src, map[string]string{"x": src}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), cli, src) })
	for _, n := range []int{60, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			wants := make([]registry.Want, n)
			for i := range wants {
				ref := fmt.Sprintf("%s-%d", src, i)
				if err := cli.ImageTag(ctx, src, ref); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = testutil.Untag(context.Background(), cli, ref) })
				wants[i] = registry.Want{Image: ref, For: []string{fmt.Sprintf("svc-%d", i)}}
			}
			p := &registry.Puller{Docker: cli}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.Ensure(ctx, wants, registry.PullMissing); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
