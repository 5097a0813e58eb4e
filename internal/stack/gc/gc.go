// Package gc removes what clocal's builds and stacks leave behind: superseded images of
// each service, dangling build leftovers, stopped containers of stacks that no longer
// run, and (when asked) the daemon's BuildKit cache.
//
// It works in three steps, like Tilt's dockerprune: [Collect] reads the daemon, [Decide]
// is the planner (pure: an inventory and a policy in, a plan out, unit-tested against
// fixed inputs), and [Apply] carries the plan out through the Docker API, taking each
// stack's project lock before it removes that stack's containers (a stack another clocal
// process is changing is skipped). Nothing without clocal's labels is ever removed, and
// volumes never are.
package gc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/stack"
)

// Docker is what gc needs of the Engine API (client.APIClient has it; dockerfake fakes it).
type Docker interface {
	ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error)
	ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error
	ImageList(ctx context.Context, o image.ListOptions) ([]image.Summary, error)
	ImageRemove(ctx context.Context, ref string, o image.RemoveOptions) ([]image.DeleteResponse, error)
	DiskUsage(ctx context.Context, o types.DiskUsageOptions) (types.DiskUsage, error)
	BuildCachePrune(ctx context.Context, o build.CachePruneOptions) (*build.CachePruneReport, error)
}

// Inventory is what the daemon holds that gc decides about.
type Inventory struct {
	// Containers are all containers, clocal's or not: an image any container uses is in
	// use and never removed.
	Containers []container.Summary
	// Images are the images carrying clocal's service label.
	Images []image.Summary
	// BuildCache are the daemon's BuildKit cache records (not labelled: all of them).
	BuildCache []*build.CacheRecord
}

// Policy says what to keep.
type Policy struct {
	// Keep is how many images per service to keep besides the ones in use.
	Keep int
	// Services limits gc to these services' images and containers (nil: every service).
	Services []string
	// MinAge protects containers created but never started for less than this: an up in
	// progress creates them all before starting them one by one.
	MinAge time.Duration
	// Now is the time ages are measured against.
	Now time.Time
	// Pinned are image references `clocal update` pinned services to: kept like images in
	// use (up runs them next).
	Pinned map[string]bool
}

// Item is one object of a plan.
type Item struct {
	Kind    string `json:"kind"`              // "container" or "image"
	Name    string `json:"name"`              // container name, image reference or ID
	Service string `json:"service,omitempty"` // the clocal service it belongs to
	Project string `json:"project,omitempty"` // containers: the compose project
	Reason  string `json:"reason"`

	workingDir string // containers: the workspace of the stack (its lock lives there)
	imageID    string // containers: the image they run
	id         string // images: the image ID
}

// CacheSummary is the size of the BuildKit cache no image uses.
type CacheSummary struct {
	Records int   `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// Plan is what gc removes and keeps.
type Plan struct {
	Containers []Item `json:"containers"`
	Images     []Item `json:"images"`
	// Kept are the images of the selected services gc keeps, with why.
	Kept []Item `json:"kept"`
	// BuildCache is the unused BuildKit cache (pruned only with ApplyOptions.BuildCache).
	BuildCache CacheSummary `json:"build_cache"`
}

// Empty reports whether the plan removes nothing (build cache aside).
func (p Plan) Empty() bool { return len(p.Containers)+len(p.Images) == 0 }

// Collect reads the inventory. The build cache is read only when withCache (a disk-usage
// call costs the daemon a walk of its cache).
func Collect(ctx context.Context, d Docker, withCache bool) (Inventory, error) {
	var inv Inventory
	var err error
	if inv.Containers, err = d.ContainerList(ctx, container.ListOptions{All: true}); err != nil {
		return inv, fmt.Errorf("list containers: %w", err)
	}
	f := filters.NewArgs(filters.Arg("label", labels.Service))
	if inv.Images, err = d.ImageList(ctx, image.ListOptions{Filters: f}); err != nil {
		return inv, fmt.Errorf("list images: %w", err)
	}
	if withCache {
		du, err := d.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.BuildCacheObject}})
		if err != nil {
			return inv, fmt.Errorf("build cache: %w", err)
		}
		inv.BuildCache = du.BuildCache
	}
	return inv, nil
}

// Decide is the planner: for each selected service it keeps every image a container uses
// and the newest p.Keep others, and removes the rest; dangling images of clocal's builds
// that no container uses go too. Stopped containers of clocal stacks go when their stack
// has no running container (a stack with running ones was stopped on purpose, by clocal
// stop) and, for containers created but never started, when older than p.MinAge.
func Decide(inv Inventory, p Policy) Plan {
	wanted := func(l map[string]string) bool {
		if len(p.Services) == 0 {
			return true
		}
		for _, s := range p.Services {
			if l[labels.Service] == s {
				return true
			}
		}
		return false
	}
	running := map[string]bool{} // projects with a running clocal container
	for _, c := range inv.Containers {
		if _, ours := c.Labels[labels.Service]; ours && c.State == container.StateRunning {
			running[c.Labels[labels.ComposeProject]] = true
		}
	}
	plan := Plan{Containers: []Item{}, Images: []Item{}, Kept: []Item{}}
	inUse := map[string]bool{}
	for _, c := range inv.Containers {
		_, ours := c.Labels[labels.Service]
		project := c.Labels[labels.ComposeProject]
		var reason string
		switch {
		case !ours || !wanted(c.Labels) || running[project]:
		case c.State == container.StateExited || c.State == container.StateDead:
			reason = "stopped, and nothing of its stack runs"
		case c.State == container.StateCreated && p.Now.Sub(time.Unix(c.Created, 0)) >= p.MinAge:
			reason = fmt.Sprintf("created but never started, for more than %s", p.MinAge)
		}
		if reason == "" {
			inUse[c.ImageID] = true
			continue
		}
		plan.Containers = append(plan.Containers, Item{
			Kind: "container", Name: strings.TrimPrefix(firstName(c.Names), "/"), Service: c.Labels[labels.Service],
			Project: project, Reason: reason, workingDir: c.Labels[labels.ComposeWorkingDir], imageID: c.ImageID,
		})
	}
	byService := map[string][]image.Summary{}
	for _, im := range inv.Images {
		if !wanted(im.Labels) {
			continue
		}
		svc := im.Labels[labels.Service]
		if len(im.RepoTags) == 0 || im.RepoTags[0] == "<none>:<none>" {
			if !inUse[im.ID] {
				plan.Images = append(plan.Images, Item{Kind: "image", Name: im.ID, Service: svc, Reason: "dangling leftover of a build", id: im.ID})
			}
			continue
		}
		byService[svc] = append(byService[svc], im)
	}
	for svc, list := range byService {
		sort.Slice(list, func(i, j int) bool {
			ti, tj := BuiltAt(list[i]), BuiltAt(list[j])
			if !ti.Equal(tj) {
				return ti.After(tj)
			}
			if list[i].Created != list[j].Created {
				return list[i].Created > list[j].Created
			}
			return list[i].ID < list[j].ID
		})
		kept := 0
		for _, im := range list {
			item := Item{Kind: "image", Service: svc, id: im.ID}
			switch {
			case inUse[im.ID]:
				item.Reason = "used by a container"
			case pinned(im.RepoTags, p.Pinned):
				item.Reason = "pinned by clocal update"
			case kept < p.Keep:
				kept++
				item.Reason = fmt.Sprintf("one of the %d newest", p.Keep)
			default:
				for _, ref := range im.RepoTags {
					it := item
					it.Name, it.Reason = ref, fmt.Sprintf("superseded: %d newer images kept", p.Keep)
					plan.Images = append(plan.Images, it)
				}
				continue
			}
			for _, ref := range im.RepoTags {
				it := item
				it.Name = ref
				plan.Kept = append(plan.Kept, it)
			}
		}
	}
	for _, r := range inv.BuildCache {
		if !r.InUse && !r.Shared {
			plan.BuildCache.Records++
			plan.BuildCache.Bytes += r.Size
		}
	}
	byName := func(l []Item) {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	byName(plan.Containers)
	byName(plan.Images)
	byName(plan.Kept)
	return plan
}

func pinned(tags []string, pins map[string]bool) bool {
	for _, t := range tags {
		if pins[t] {
			return true
		}
	}
	return false
}

// BuiltAt is when an image was built: its built-at label, else its creation time.
func BuiltAt(im image.Summary) time.Time {
	if t, err := time.Parse(time.RFC3339, im.Labels[labels.BuiltAt]); err == nil {
		return t
	}
	return time.Unix(im.Created, 0)
}

// ApplyOptions configure Apply.
type ApplyOptions struct {
	// BuildCache also prunes the BuildKit cache no image uses (all of it, not only
	// clocal's: it is not labelled; what `docker builder prune` does).
	BuildCache bool
}

// Failure is an item Apply could not remove, or skipped.
type Failure struct {
	Item
	Error string `json:"error"`
}

// Result is what Apply did.
type Result struct {
	Removed []Item    `json:"removed"`
	Skipped []Failure `json:"skipped"` // stacks another clocal process holds
	Failed  []Failure `json:"failed"`
	// PrunedCache is the reclaimed BuildKit cache (nil when not pruned).
	PrunedCache *CacheSummary `json:"pruned_build_cache,omitempty"`
}

// ErrBusy marks what Apply skipped because another clocal process holds the stack's lock.
var ErrBusy = errors.New("another clocal process is changing this stack (its project lock is held)")

// Apply carries plan out: containers first, each stack's under its project lock (skipped,
// with the images they run, when another clocal holds it), then images, then the build
// cache when asked. Failures are collected, not fatal.
func Apply(ctx context.Context, d Docker, plan Plan, o ApplyOptions) Result {
	res := Result{Removed: []Item{}, Skipped: []Failure{}, Failed: []Failure{}}
	type key struct{ dir, project string }
	groups := map[key][]Item{}
	var keys []key
	for _, c := range plan.Containers {
		k := key{c.workingDir, c.Project}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].project < keys[j].project })
	keepImages := map[string]bool{}
	for _, k := range keys {
		unlock, ok, err := stack.TryLockProjectAt(k.dir, k.project)
		if err != nil || !ok {
			why := ErrBusy.Error()
			if err != nil {
				why = err.Error()
			}
			for _, c := range groups[k] {
				res.Skipped = append(res.Skipped, Failure{Item: c, Error: why})
				keepImages[c.imageID] = true
			}
			continue
		}
		for _, c := range groups[k] {
			if err := d.ContainerRemove(ctx, c.Name, container.RemoveOptions{}); err != nil {
				res.Failed = append(res.Failed, Failure{Item: c, Error: err.Error()})
				keepImages[c.imageID] = true
				continue
			}
			res.Removed = append(res.Removed, c)
		}
		unlock()
	}
	for _, im := range plan.Images {
		if keepImages[im.id] {
			res.Skipped = append(res.Skipped, Failure{Item: im, Error: "a container that was not removed uses it"})
			continue
		}
		if _, err := d.ImageRemove(ctx, im.Name, image.RemoveOptions{PruneChildren: true}); err != nil {
			res.Failed = append(res.Failed, Failure{Item: im, Error: err.Error()})
			continue
		}
		res.Removed = append(res.Removed, im)
	}
	if o.BuildCache && plan.BuildCache.Records > 0 {
		rep, err := d.BuildCachePrune(ctx, build.CachePruneOptions{})
		if err != nil {
			res.Failed = append(res.Failed, Failure{Item: Item{Kind: "build-cache", Name: "BuildKit cache"}, Error: err.Error()})
		} else {
			res.PrunedCache = &CacheSummary{Records: len(rep.CachesDeleted), Bytes: int64(rep.SpaceReclaimed)}
		}
	}
	return res
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
