package update

import (
	"context"
	"strings"

	"github.com/clocal-dev/clocal/internal/registry"
	"github.com/clocal-dev/clocal/internal/stack"
)

// RegistryTags lists the tags of the repository of a service's production image, through
// the registry's HTTP API v2 (go-containerregistry), with their creation dates.
type RegistryTags struct {
	Remote *registry.Remote
	// Production returns the service's production image ("" when it has none).
	Production func(service string) string
	// Jobs is how many tags are described at once (default 8).
	Jobs int
}

// Candidates implements Lister.
func (r RegistryTags) Candidates(ctx context.Context, q Query) ([]Candidate, error) {
	prod := r.Production(q.Service)
	if prod == "" {
		return nil, nil
	}
	tags, err := r.Remote.Tags(ctx, prod, r.Jobs)
	if err != nil {
		return nil, err
	}
	out := make([]Candidate, 0, len(tags))
	for _, t := range tags {
		out = append(out, Candidate{Ref: t.Ref, Tag: t.Tag, BuiltAt: t.Created, Origin: OriginRegistry,
			Repository: repoOf(t.Ref), Digest: t.Digest, Err: t.Err})
	}
	return out, nil
}

// ForStack returns the listers of a stack: its local builds and its registry tags (with
// the user's Docker credentials).
func ForStack(st *stack.Stack) []Lister {
	remote := &registry.Remote{Auth: registry.DockerAuth(), Insecure: registry.InsecureFromDaemon(st.Docker)}
	if p, ok := st.Puller.(*registry.Puller); ok && p.Remote != nil {
		remote = p.Remote
	}
	return []Lister{
		LocalImages{Docker: st.Docker, Root: st.WS.Root},
		RegistryTags{Remote: remote, Production: func(service string) string { return Production(st, service) }},
	}
}

// Pull is an Updater.Prepare that makes a registry candidate present as the registry has
// it now (the daemon fetches only what changed), through the stack's puller.
func Pull(st *stack.Stack) func(context.Context, Candidate) error {
	return func(ctx context.Context, c Candidate) error {
		if c.Origin != OriginRegistry || st.Puller == nil {
			return nil
		}
		return st.Puller.Ensure(ctx, []registry.Want{{Image: c.Ref, For: []string{"update"}}}, registry.PullAlways)
	}
}

// repoOf is ref without its tag or digest.
func repoOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
