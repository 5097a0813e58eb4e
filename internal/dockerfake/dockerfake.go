// Package dockerfake is an in-memory Docker Engine API client for the unit tests of the
// packages that read and clean up Docker objects (gc, prune, update, ls): containers,
// images, networks, volumes and build cache records, with the label and status filters
// those packages use, and removals recorded in order. It embeds client.APIClient so it
// satisfies the whole interface; calling a method it does not implement panics (a test
// then shows what is missing).
package dockerfake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Client is the fake. Fill its slices, then hand it to the code under test. Safe for
// concurrent use.
type Client struct {
	client.APIClient // nil: unimplemented methods panic

	mu         sync.Mutex
	Containers []container.Summary
	Images     []image.Summary
	Networks   []network.Summary
	Volumes    []*volume.Volume
	BuildCache []*build.CacheRecord

	// Removed records every removal in order: "container NAME", "image REF",
	// "network NAME", "volume NAME", "build-cache".
	Removed []string
	// Fail makes the removal of these objects (same spelling as Removed) fail.
	Fail map[string]error

	// Version and SystemInfo answer ServerVersion and Info.
	Version    types.Version
	SystemInfo system.Info
}

// ServerVersion returns Version.
func (c *Client) ServerVersion(context.Context) (types.Version, error) { return c.Version, nil }

// ClientVersion returns Version.APIVersion, or 1.41 (Docker Engine 20.10) when unset.
func (c *Client) ClientVersion() string {
	if c.Version.APIVersion != "" {
		return c.Version.APIVersion
	}
	return "1.41"
}

// Info returns SystemInfo.
func (c *Client) Info(context.Context) (system.Info, error) { return c.SystemInfo, nil }

// Removals returns a copy of Removed.
func (c *Client) Removals() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.Removed)
}

func (c *Client) remove(what string) error {
	if err := c.Fail[what]; err != nil {
		return err
	}
	c.Removed = append(c.Removed, what)
	return nil
}

// matchLabels applies "label" filters: "key" (any value) or "key=value".
func matchLabels(f filters.Args, l map[string]string) bool {
	for _, want := range f.Get("label") {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := l[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// ContainerList lists containers (running ones unless o.All) matching the label and
// status filters.
func (c *Client) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []container.Summary
	for _, ctr := range c.Containers {
		if !o.All && ctr.State != container.StateRunning {
			continue
		}
		if st := o.Filters.Get("status"); len(st) > 0 && !slices.Contains(st, ctr.State) {
			continue
		}
		if matchLabels(o.Filters, ctr.Labels) {
			out = append(out, ctr)
		}
	}
	return out, nil
}

// ContainerRemove removes a container by ID or name.
func (c *Client) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ctr := range c.Containers {
		if ctr.ID == id || slices.Contains(ctr.Names, "/"+id) {
			name := strings.TrimPrefix(firstOr(ctr.Names, ctr.ID), "/")
			if err := c.remove("container " + name); err != nil {
				return err
			}
			c.Containers = slices.Delete(c.Containers, i, i+1)
			return nil
		}
	}
	return errdefs.NotFound(fmt.Errorf("no such container: %s", id))
}

// ImageList lists images matching the label filters (dangling ones included, like the
// daemon without All).
func (c *Client) ImageList(_ context.Context, o image.ListOptions) ([]image.Summary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []image.Summary
	for _, im := range c.Images {
		if matchLabels(o.Filters, im.Labels) {
			out = append(out, im)
		}
	}
	return out, nil
}

// ImageRemove untags ref (the image goes with its last tag) or removes an image by ID.
// An image a container uses cannot be removed, as on the daemon.
func (c *Client) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.Images {
		im := &c.Images[i]
		byID := im.ID == ref
		if !byID && !slices.Contains(im.RepoTags, ref) {
			continue
		}
		for _, ctr := range c.Containers {
			if ctr.ImageID == im.ID && (byID || len(im.RepoTags) == 1) {
				return nil, errdefs.Conflict(fmt.Errorf("conflict: unable to remove %s: image is being used by container %s", ref, ctr.ID))
			}
		}
		if err := c.remove("image " + ref); err != nil {
			return nil, err
		}
		if !byID {
			im.RepoTags = slices.DeleteFunc(im.RepoTags, func(t string) bool { return t == ref })
			if len(im.RepoTags) > 0 {
				return []image.DeleteResponse{{Untagged: ref}}, nil
			}
		}
		id := im.ID
		c.Images = slices.Delete(c.Images, i, i+1)
		return []image.DeleteResponse{{Deleted: id}}, nil
	}
	return nil, errdefs.NotFound(fmt.Errorf("no such image: %s", ref))
}

// ImageInspect returns what the fake knows of an image (ID, tags, labels).
func (c *Client) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, im := range c.Images {
		if im.ID == ref || slices.Contains(im.RepoTags, ref) {
			return image.InspectResponse{ID: im.ID, RepoTags: im.RepoTags, Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Labels: im.Labels}}}, nil
		}
	}
	return image.InspectResponse{}, errdefs.NotFound(fmt.Errorf("no such image: %s", ref))
}

// NetworkList lists networks matching the label filters.
func (c *Client) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []network.Summary
	for _, n := range c.Networks {
		if matchLabels(o.Filters, n.Labels) {
			out = append(out, n)
		}
	}
	return out, nil
}

// VolumeList lists volumes matching the label filters.
func (c *Client) VolumeList(_ context.Context, o volume.ListOptions) (volume.ListResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out volume.ListResponse
	for _, v := range c.Volumes {
		if matchLabels(o.Filters, v.Labels) {
			out.Volumes = append(out.Volumes, v)
		}
	}
	return out, nil
}

// DiskUsage reports the build cache records.
func (c *Client) DiskUsage(_ context.Context, _ types.DiskUsageOptions) (types.DiskUsage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return types.DiskUsage{BuildCache: slices.Clone(c.BuildCache)}, nil
}

// BuildCachePrune removes the records no image uses.
func (c *Client) BuildCachePrune(_ context.Context, _ build.CachePruneOptions) (*build.CachePruneReport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.remove("build-cache"); err != nil {
		return nil, err
	}
	rep := &build.CachePruneReport{}
	c.BuildCache = slices.DeleteFunc(c.BuildCache, func(r *build.CacheRecord) bool {
		if r.InUse || r.Shared {
			return false
		}
		rep.CachesDeleted = append(rep.CachesDeleted, r.ID)
		rep.SpaceReclaimed += uint64(r.Size)
		return true
	})
	return rep, nil
}

// Close does nothing.
func (c *Client) Close() error { return nil }

func firstOr(l []string, def string) string {
	if len(l) > 0 {
		return l[0]
	}
	return def
}
