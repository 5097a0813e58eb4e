package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/testutil"
)

// pushFresh imports a small image with the given content, pushes it to reg as repoTag and
// removes it locally (layers included), so that only the registry has it. The pulled copy
// is removed when the test ends.
func pushFresh(t *testing.T, cli client.APIClient, reg *testutil.Registry, repoTag, content string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := testutil.RandName("clocaltest/fresh:")
	if err := testutil.ImportImage(ctx, cli, src, map[string]string{"content": content}); err != nil {
		t.Fatal(err)
	}
	ref := reg.Push(t, cli, src, repoTag)
	if err := testutil.RemoveImage(ctx, cli, src); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testutil.RemoveImage(context.Background(), cli, ref) })
	return ref
}

func imageID(t *testing.T, cli client.APIClient, ref string) string {
	t.Helper()
	img, err := cli.ImageInspect(context.Background(), ref)
	if err != nil {
		return ""
	}
	return img.ID
}

func TestEnsure(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	ref := pushFresh(t, cli, reg, "team/db:1", testutil.RandName("db-"))
	ctx := context.Background()

	var out bytes.Buffer
	p := &registry.Puller{Docker: cli, Out: &out, Remote: &registry.Remote{}}

	// never: the image is missing and may not be pulled.
	err := p.Ensure(ctx, []registry.Want{{Image: ref, For: []string{"db"}}}, registry.PullNever)
	var me *registry.MissingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "registry "+reg.Host) {
		t.Fatalf("--pull never with a missing image: %v", err)
	}
	if imageID(t, cli, ref) != "" {
		t.Fatal("--pull never pulled the image")
	}

	// missing: pulled, with a start line and a result line.
	if err := p.Ensure(ctx, []registry.Want{{Image: ref, For: []string{"db"}}}, registry.PullMissing); err != nil {
		t.Fatal(err)
	}
	if imageID(t, cli, ref) == "" {
		t.Fatal("the image is not present after Ensure")
	}
	if s := out.String(); !strings.Contains(s, "pulling "+ref+" (for db)\n") || !strings.Contains(s, ref+": pulled") {
		t.Fatalf("progress lines:\n%s", s)
	}

	// present: nothing to do, nothing printed, even with the registry gone.
	out.Reset()
	reg.Stop()
	if err := p.Ensure(ctx, []registry.Want{{Image: ref}}, registry.PullMissing); err != nil || out.Len() != 0 {
		t.Fatalf("Ensure of a present image: %v, output %q", err, out.String())
	}
	// always: the registry is needed, and it is gone.
	err = p.Ensure(ctx, []registry.Want{{Image: ref, For: []string{"db"}}}, registry.PullAlways)
	var pe *registry.PullError
	if !errors.As(err, &pe) || pe.Reason != registry.ReasonUnreachable || strings.Contains(err.Error(), "\n") {
		t.Fatalf("--pull always with the registry gone: %#v", err)
	}
}

func TestEnsureFailures(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	pushFresh(t, cli, reg, "team/db:1", testutil.RandName("db-"))
	ctx := context.Background()
	p := &registry.Puller{Docker: cli}
	for _, tc := range []struct {
		name, image string
		reason      registry.Reason
	}{
		{"unknown tag", reg.Ref("team/db:nope"), registry.ReasonNotFound},
		// Distribution answers "manifest unknown" for a repository it does not have, too.
		{"unknown repository", reg.Ref("team/nothing:1"), registry.ReasonNotFound},
		{"unreachable registry", testutil.ClosedAddr(t) + "/team/db:1", registry.ReasonUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Ensure(ctx, []registry.Want{{Image: tc.image, For: []string{"db"}}}, registry.PullMissing)
			var pe *registry.PullError
			if !errors.As(err, &pe) || pe.Reason != tc.reason {
				t.Fatalf("err = %v (%#v), want reason %s", err, err, tc.reason)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.image) || !strings.Contains(msg, "registry "+registry.Host(tc.image)) {
				t.Fatalf("message is not one line naming the image and its registry: %q", msg)
			}
		})
	}
}

// TestBaseTagMoved: a base image that came from a registry is pulled again when its tag
// moved there, and not when it did not.
func TestBaseTagMoved(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	ref := pushFresh(t, cli, reg, "base/run:1", "v1")
	ctx := context.Background()
	var out bytes.Buffer
	p := &registry.Puller{Docker: cli, Out: &out, Remote: &registry.Remote{}}
	want := []registry.Want{{Image: ref, For: []string{"base of app"}, Base: true}}
	if err := p.Ensure(ctx, want, registry.PullMissing); err != nil {
		t.Fatal(err)
	}
	first := imageID(t, cli, ref)

	out.Reset()
	if err := p.Ensure(ctx, want, registry.PullMissing); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || imageID(t, cli, ref) != first {
		t.Fatalf("unchanged tag: pulled again or image changed: %q", out.String())
	}

	pushFresh(t, cli, reg, "base/run:1", "v2")
	if err := p.Ensure(ctx, want, registry.PullMissing); err != nil {
		t.Fatal(err)
	}
	if second := imageID(t, cli, ref); second == first || second == "" {
		t.Fatalf("moved tag: image %s, was %s: not pulled again (output %q)", second, first, out.String())
	}

	// Unreachable registry: the local copy is used, with one line saying so.
	reg.Stop()
	out.Reset()
	if err := p.Ensure(ctx, want, registry.PullMissing); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "using the local copy") {
		t.Fatalf("no note about the local copy: %q", out.String())
	}
}

func TestTags(t *testing.T) {
	cli := testutil.RequireDocker(t)
	reg := testutil.StartRegistry(t)
	ctx := context.Background()
	for i, tag := range []string{"1.0", "1.1", "0.9"} {
		src := testutil.RandName("clocaltest/tags:")
		// docker import stamps the image with the current time; one second apart makes the
		// order by creation date unambiguous.
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		if err := testutil.ImportImage(ctx, cli, src, map[string]string{"v": tag}); err != nil {
			t.Fatal(err)
		}
		reg.Push(t, cli, src, "team/app:"+tag)
		_ = testutil.RemoveImage(ctx, cli, src)
	}
	tags, err := (&registry.Remote{}).Tags(ctx, reg.Ref("team/app:1.0"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags {
		if tg.Created.IsZero() || !strings.HasPrefix(tg.Digest, "sha256:") || tg.Err != "" {
			t.Errorf("tag %+v lacks date or digest", tg)
		}
		got = append(got, tg.Tag)
	}
	if strings.Join(got, ",") != "0.9,1.1,1.0" {
		t.Fatalf("tags newest first = %v, want [0.9 1.1 1.0]", got)
	}
	if tags[0].Ref != reg.Ref("team/app:0.9") {
		t.Errorf("ref = %q", tags[0].Ref)
	}
}

// TestCredentials: a registry that needs a login is reached with the credentials of the
// user's Docker config ($DOCKER_CONFIG), from "auths" or from a credential helper, as the
// docker CLI finds them; without them the error says to docker login; the password shows
// nowhere.
func TestCredentials(t *testing.T) {
	cli := testutil.RequireDocker(t)
	const user, password = "dev", "s3cret-Pa55"
	reg := testutil.StartRegistry(t, testutil.RegistryLogin(user, password))
	ref := pushFresh(t, cli, reg, "team/private:1", testutil.RandName("p-"))
	ctx := context.Background()
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	writeConfig := func(cfg string) {
		if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, wantErr bool) {
		t.Helper()
		_ = testutil.RemoveImage(ctx, cli, ref)
		var out bytes.Buffer
		p := &registry.Puller{Docker: cli, Auth: registry.DockerAuth(), Out: &out}
		err := p.Ensure(ctx, []registry.Want{{Image: ref}}, registry.PullMissing)
		_, terr := (&registry.Remote{Auth: registry.DockerAuth()}).Tags(ctx, ref, 0)
		text := out.String() + fmt.Sprint(err) + fmt.Sprint(terr)
		if strings.Contains(text, password) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(user+":"+password))) {
			t.Fatalf("%s: the password shows: %s", name, text)
		}
		if wantErr {
			if err == nil || !strings.Contains(err.Error(), "docker login "+reg.Host) {
				t.Fatalf("%s: pull error %v does not say docker login %s", name, err, reg.Host)
			}
			if terr == nil {
				t.Fatalf("%s: listing tags without credentials worked", name)
			}
			return
		}
		if err != nil || terr != nil {
			t.Fatalf("%s: pull %v, tags %v", name, err, terr)
		}
	}

	writeConfig(`{}`)
	check("no credentials", true)

	writeConfig(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+password))))
	check("auths", false)

	bin := t.TempDir()
	helper := fmt.Sprintf("#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\nprintf '{\"ServerURL\":\"%%s\",\"Username\":%q,\"Secret\":%q}' \"$server\"\n", user, password)
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-clocaltest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeConfig(fmt.Sprintf(`{"credHelpers": {%q: "clocaltest"}}`, reg.Host))
	check("credential helper", false)
}
