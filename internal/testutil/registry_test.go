package testutil

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestRegistry pushes an imported image to a throwaway registry, sees its tag listed, and
// sees the address refuse connections once stopped.
func TestRegistry(t *testing.T) {
	cli := RequireDocker(t)
	reg := StartRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := RandName("clocaltest/imported:")
	if err := ImportImage(ctx, cli, src, map[string]string{"hello": "1"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = RemoveImage(context.Background(), cli, src) })
	ref := reg.Push(t, cli, src, "team/app:1")
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		t.Fatalf("%s is still tagged locally after Push", ref)
	}
	tags, err := reg.Tags("team/app")
	if err != nil || len(tags) != 1 || tags[0] != "1" {
		t.Fatalf("tags = %v, %v; want [1]", tags, err)
	}
	reg.Stop()
	if c, err := net.DialTimeout("tcp", reg.Host, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", reg.Host)
	}
}
