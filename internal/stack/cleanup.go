package stack

import (
	"context"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/clocal-dev/clocal/internal/labels"
)

// projectFilter selects the stack's objects by compose's project label.
func (s *Stack) projectFilter() filters.Args {
	return filters.NewArgs(filters.Arg("label", labels.ComposeProject+"="+s.Name))
}

// RemoveCreated removes the stack's containers that were created but never started — what an
// up interrupted between create and start leaves behind.
func (s *Stack) RemoveCreated(ctx context.Context) error {
	f := s.projectFilter()
	f.Add("status", "created")
	ctrs, err := s.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return err
	}
	var first error
	for _, c := range ctrs {
		if err := s.Docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && first == nil {
			first = err
		}
	}
	return first
}
