//go:build unix

package build_test

import (
	"context"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/build"
	"github.com/clocal-dev/clocal/internal/testutil"
)

func TestBackendFromEnv(t *testing.T) {
	for _, tc := range []struct{ env, want, err string }{
		{"", build.BackendAuto, ""},
		{"auto", build.BackendAuto, ""},
		{"classic", build.BackendClassic, ""},
		{" BuildKit ", build.BackendBuildKit, ""},
		{"buildx", "", `CLOCAL_BUILDER="buildx": want classic, buildkit or auto`},
	} {
		t.Setenv("CLOCAL_BUILDER", tc.env)
		got, err := build.BackendFromEnv()
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("CLOCAL_BUILDER=%q: %q, %v; want %q, %q", tc.env, got, err, tc.want, tc.err)
		}
	}
}

// TestBuildKitFallback: without BuildKit, auto builds with the classic builder and an
// explicit CLOCAL_BUILDER=buildkit is an error that says so.
func TestBuildKitFallback(t *testing.T) {
	cli := testutil.RequireDocker(t)
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY x /x\n", "x": "x"}

	s := service(t, "nobk", files)
	b, out, _ := builderFor(t, cli, s)
	b.Docker = testutil.NoBuildKit{APIClient: cli}
	if _, err := b.Ensure(context.Background(), s, false); err != nil {
		t.Fatalf("auto without BuildKit: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "nobk | Step 1/") || strings.Contains(out.String(), "(BuildKit)") {
		t.Errorf("auto without BuildKit did not use the classic builder:\n%s", out)
	}

	s2 := service(t, "nobk2", files)
	b2, out2, _ := builderFor(t, cli, s2)
	b2.Docker, b2.Backend = testutil.NoBuildKit{APIClient: cli}, build.BackendBuildKit
	_, err := b2.Ensure(context.Background(), s2, false)
	if err == nil || !strings.Contains(err.Error(), "CLOCAL_BUILDER=buildkit: the Docker daemon offers no BuildKit") {
		t.Fatalf("buildkit required without BuildKit: %v\n%s", err, out2)
	}
}

// TestBuildKitProbeRetried: a failed probe (the daemon restarting when a watch began) is
// not believed forever: once buildKitRetry has passed, the next build asks again.
func TestBuildKitProbeRetried(t *testing.T) {
	cli := testutil.RequireDocker(t)
	build.SetBuildKitRetry(t, 0)
	s := service(t, "retrybk", map[string]string{"Dockerfile": "FROM scratch\nCOPY x /x\n", "x": "x"})
	b, out, _ := builderFor(t, cli, s)
	b.Docker = testutil.NoBuildKit{APIClient: cli}
	if _, err := b.Ensure(context.Background(), s, false); err != nil || !strings.Contains(out.String(), "retrybk | Step 1/") {
		t.Fatalf("without BuildKit: %v\n%s", err, out)
	}
	b.Docker = cli
	if _, err := b.Ensure(context.Background(), s, true); err != nil || !strings.Contains(out.String(), "(BuildKit)") {
		t.Fatalf("BuildKit back, probe retried: %v\n%s", err, out)
	}
}

// TestSyntaxLineUsesClassic: a production Dockerfile naming a frontend image (`# syntax=`)
// builds with the classic builder, which ignores the line; BuildKit would try to pull it
// and no registry is reachable.
func TestSyntaxLineUsesClassic(t *testing.T) {
	cli := testutil.RequireDocker(t)
	s := service(t, "syntaxsvc", map[string]string{
		"Dockerfile": "# syntax=docker/dockerfile:1.7\nFROM scratch\nCOPY x /x\n",
		"x":          "x",
	})
	b, out, _ := builderFor(t, cli, s)
	b.Backend = build.BackendAuto
	if _, err := b.Ensure(context.Background(), s, false); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"syntaxsvc | Dockerfile names a frontend image (# syntax=docker/dockerfile:1.7): built with the classic builder", "syntaxsvc | Step 1/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
