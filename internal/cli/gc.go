package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// GCOptions are the flags of `clocal gc`.
type GCOptions struct {
	IO     *IOStreams
	F      *Factory
	Keep   int
	DryRun bool
	// Services limits gc to these services' images and containers (nil: every service).
	Services []string
	// MinAge protects containers that were created but never started: an up in progress
	// creates them all before starting them one by one.
	MinAge time.Duration
	// BuildCache also prunes the daemon's BuildKit cache that no image uses. It is not
	// labelled, so this is all of it, not only clocal's (what `docker builder prune` does):
	// hence a flag, and a hint line with its size otherwise.
	BuildCache bool
}

// NewCmdGC creates `clocal gc`.
func NewCmdGC(f *Factory, runF func(context.Context, *GCOptions) error) *cobra.Command {
	o := &GCOptions{IO: f.IO, F: f}
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove superseded images, dangling build leftovers and stopped containers clocal made",
		Long: `Remove images clocal built that are superseded: for each service it keeps every image a
container uses and the newest --keep images. Also removes dangling images left by
clocal's builds and stopped containers of clocal stacks that have no running container.
Never touches volumes or anything clocal did not create (images and containers without
the dev.clocal.service label). --service limits it to some services. --dry-run shows
what would go.`,
		Example: `  clocal gc --dry-run
  clocal gc --keep 1
  clocal gc --service repo-manager --keep 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runGC(cmd.Context(), o)
		},
	}
	cmd.Flags().IntVar(&o.Keep, "keep", 3, "images to keep per service besides the ones in use")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only show what would be removed")
	cmd.Flags().StringSliceVar(&o.Services, "service", nil, "only this service's images and containers (repeatable)")
	cmd.Flags().BoolVar(&o.BuildCache, "build-cache", false, "also prune BuildKit cache no image uses (all of it, as docker builder prune does)")
	cmd.Flags().DurationVar(&o.MinAge, "min-age", 10*time.Minute, "keep containers created but never started for less than this (an up in progress)")
	return cmd
}

// GCPlan is what gc removes.
type GCPlan struct {
	Images     []string // references or IDs
	Containers []string // names
}

func runGC(ctx context.Context, o *GCOptions) error {
	if o.Keep < 0 {
		return BadInputf("--keep must be 0 or more")
	}
	eng, docker, err := o.F.Connect(ctx)
	if err != nil {
		return err
	}
	defer eng.Close()
	clocalLabel := filters.Arg("label", "dev.clocal.service")
	wanted := func(labels map[string]string) bool {
		if len(o.Services) == 0 {
			return true
		}
		for _, s := range o.Services {
			if labels["dev.clocal.service"] == s {
				return true
			}
		}
		return false
	}
	// Every container counts for "in use", clocal's or not: an image a container runs is
	// never removed.
	all, err := docker.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return err
	}
	inUse := map[string]bool{}
	var ctrs []container.Summary
	for _, c := range all {
		if _, ok := c.Labels["dev.clocal.service"]; ok {
			ctrs = append(ctrs, c)
		}
	}
	var plan GCPlan
	now := time.Now()
	for _, c := range all {
		_, ours := c.Labels["dev.clocal.service"]
		removable := ours && wanted(c.Labels) && (c.State == "exited" || c.State == "dead" ||
			c.State == "created" && now.Sub(time.Unix(c.Created, 0)) >= o.MinAge) &&
			// A stopped container of a stack that still has running containers was
			// stopped on purpose (clocal stop): keep it and its image.
			!projectRunning(ctrs, c.Labels["com.docker.compose.project"])
		if removable {
			plan.Containers = append(plan.Containers, strings.TrimPrefix(firstName(c.Names), "/"))
			continue
		}
		inUse[c.ImageID] = true
	}
	imgs, err := docker.ImageList(ctx, image.ListOptions{All: false, Filters: filters.NewArgs(clocalLabel)})
	if err != nil {
		return err
	}
	byService := map[string][]image.Summary{}
	for _, im := range imgs {
		if !wanted(im.Labels) {
			continue
		}
		if len(im.RepoTags) == 0 || im.RepoTags[0] == "<none>:<none>" {
			if !inUse[im.ID] {
				plan.Images = append(plan.Images, im.ID) // dangling leftover of a clocal build
			}
			continue
		}
		svc := im.Labels["dev.clocal.service"]
		byService[svc] = append(byService[svc], im)
	}
	for _, list := range byService {
		sort.Slice(list, func(i, j int) bool {
			ti, tj := builtAt(list[i]), builtAt(list[j])
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
			if inUse[im.ID] {
				continue
			}
			if kept < o.Keep {
				kept++
				continue
			}
			plan.Images = append(plan.Images, im.RepoTags...)
		}
	}
	sort.Strings(plan.Images)
	sort.Strings(plan.Containers)
	verb := "removed"
	if o.DryRun {
		verb = "would remove"
	}
	for _, c := range plan.Containers {
		if !o.DryRun {
			if err := docker.ContainerRemove(ctx, c, container.RemoveOptions{}); err != nil {
				fmt.Fprintf(o.IO.ErrOut, "container %s: %v\n", c, err)
				continue
			}
		}
		fmt.Fprintf(o.IO.Out, "%s container %s\n", verb, c)
	}
	for _, im := range plan.Images {
		if !o.DryRun {
			if _, err := docker.ImageRemove(ctx, im, image.RemoveOptions{PruneChildren: true}); err != nil {
				fmt.Fprintf(o.IO.ErrOut, "image %s: %v\n", im, err)
				continue
			}
		}
		fmt.Fprintf(o.IO.Out, "%s image %s\n", verb, im)
	}
	pruned, err := gcBuildCache(ctx, o, docker)
	if err != nil {
		fmt.Fprintf(o.IO.ErrOut, "build cache: %v\n", err)
	}
	if len(plan.Images)+len(plan.Containers) == 0 && !pruned {
		fmt.Fprintln(o.IO.ErrOut, "nothing to remove")
	}
	return nil
}

// gcBuildCache handles the BuildKit cache images are built with (BuildKit keeps each
// build's layers and context in its own cache, which outlives the images gc removed):
// pruned with --build-cache, else its size is shown with the flag that removes it.
func gcBuildCache(ctx context.Context, o *GCOptions, docker client.APIClient) (bool, error) {
	du, err := docker.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.BuildCacheObject}})
	if err != nil {
		return false, err
	}
	var n int
	var size int64
	for _, r := range du.BuildCache {
		if !r.InUse && !r.Shared {
			n++
			size += r.Size
		}
	}
	if n == 0 {
		return false, nil
	}
	human := units.HumanSize(float64(size))
	switch {
	case !o.BuildCache:
		fmt.Fprintf(o.IO.ErrOut, "BuildKit cache no image uses: %s in %d records (clocal gc --build-cache removes it; like docker builder prune, that is all of it, not only clocal's)\n", human, n)
		return false, nil
	case o.DryRun:
		fmt.Fprintf(o.IO.Out, "would prune BuildKit cache no image uses: %s in %d records\n", human, n)
		return true, nil
	}
	rep, err := docker.BuildCachePrune(ctx, build.CachePruneOptions{})
	if err != nil {
		return false, err
	}
	fmt.Fprintf(o.IO.Out, "pruned BuildKit cache: %s in %d records\n", units.HumanSize(float64(rep.SpaceReclaimed)), len(rep.CachesDeleted))
	return true, nil
}

func projectRunning(ctrs []container.Summary, project string) bool {
	for _, c := range ctrs {
		if c.Labels["com.docker.compose.project"] == project && c.State == "running" {
			return true
		}
	}
	return false
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

func builtAt(im image.Summary) time.Time {
	if t, err := time.Parse(time.RFC3339, im.Labels["dev.clocal.built-at"]); err == nil {
		return t
	}
	return time.Unix(im.Created, 0)
}
