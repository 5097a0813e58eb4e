package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/clocal-dev/clocal/internal/labels"
)

// projectFilter selects the stack's objects by compose's project label.
func (s *Stack) projectFilter() filters.Args {
	return filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+s.Name))
}

// RemoveCreated removes the stack's containers that were created but never started — what an
// up interrupted between create and start leaves behind — except where the interrupt came
// in the middle of compose's recreate of a container (create the new one, stop and remove
// the old, rename, start): that recreate is finished, so the service is left running
// (the old container may be stopping already: the daemon goes on with a stop whose request
// was cancelled).
func (s *Stack) RemoveCreated(ctx context.Context) error {
	f := s.projectFilter()
	f.Add("status", "created")
	ctrs, err := s.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, c := range ctrs {
		if c.Labels[labels.ComposeReplace] != "" {
			keep(s.settleRecreate(ctx, c))
			continue
		}
		keep(s.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}))
	}
	return first
}

// settleRecreate finishes compose's recreate that created c: the container it replaces
// (same service and number) is removed, c given its name if it still has compose's
// temporary one, and started.
func (s *Stack) settleRecreate(ctx context.Context, c container.Summary) error {
	svc := c.Labels[labels.ComposeService]
	f := s.projectFilter()
	f.Add("label", labels.ComposeService+"="+svc)
	f.Add("label", labels.ComposeNumber+"="+c.Labels[labels.ComposeNumber])
	same, err := s.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	for _, o := range same {
		if o.ID != c.ID {
			// (gone already when compose's own remove went through meanwhile)
			if err := s.Docker.ContainerRemove(ctx, o.ID, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("finish the interrupted recreate of %s: %w", svc, err)
			}
		}
	}
	if len(c.Names) > 0 {
		name := strings.TrimPrefix(c.Names[0], "/")
		// compose's temporary name is "<old id[:12]>_<name>"
		if i := strings.IndexByte(name, '_'); i == 12 {
			// compose's own rename may have gone through meanwhile (the daemon finishes a
			// request whose client went away)
			if err := s.Docker.ContainerRename(ctx, c.ID, name[i+1:]); err != nil && !s.named(ctx, c.ID, name[i+1:]) {
				return fmt.Errorf("finish the interrupted recreate of %s: %w", svc, err)
			}
		}
	}
	if err := s.Docker.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("finish the interrupted recreate of %s: %w", svc, err)
	}
	return nil
}

// named reports whether container id is named name now.
func (s *Stack) named(ctx context.Context, id, name string) bool {
	ci, err := s.Docker.ContainerInspect(ctx, id)
	return err == nil && strings.TrimPrefix(ci.Name, "/") == name
}
