package workspace

import (
	"errors"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// FromJobs builds the model of raw job files (`clocal convert PATH...`): one service per job,
// named name(job) (nil: the job name lowercased; names must be distinct), running its production image (Prebuilt), with the
// address model of a workspace: inferred edges, namespace groups from localhost addresses
// only, each host's listeners. There are no folders, profiles or declared dependencies.
// portEnv is the port_env rule (nil: DefaultPortEnv). Errors (port clashes in a group) are
// joined, one per line.
func FromJobs(jobs []*job.Job, portEnv []string, name func(*job.Job) string) (*Workspace, error) {
	if portEnv == nil {
		portEnv = DefaultPortEnv
	}
	l := &loader{notes: newNotes(""), fileOwner: map[string]string{}}
	ws := &Workspace{Services: map[string]*Service{}, Profiles: map[string]*Profile{}, index: map[string][]string{},
		Config: Config{PortEnv: portEnv}, Schema: job.Builtin()}
	apps := make([]*app, 0, len(jobs))
	for _, j := range jobs {
		if j == nil {
			continue
		}
		n := strings.ToLower(j.Name)
		if name != nil {
			n = name(j)
		}
		apps = append(apps, &app{name: n, jobs: []*job.Job{j}})
	}
	m := newModel(apps, portEnv, func(*app) []int { return nil }, nil, l.notes)
	for _, a := range apps {
		ji := m.byJob[a.jobs[0]]
		l.makeService(ws, a, a.name, []*jobInfo{ji})
	}
	l.buildIndex(ws)
	l.buildNet(ws, m)
	l.buildEdges(ws, m)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	ws.Findings = l.notes.findings()
	return ws, nil
}
