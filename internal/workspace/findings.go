package workspace

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// FindingKind says what a Finding is about.
type FindingKind string

// Finding kinds, in the order they are shown.
const (
	// FindSplit: replicas of one app differ in image or listening port, or their hosts run unlike
	// localhost namespaces (a per-host agent next to different apps),
	// and run as several local services (each reachable as in production).
	FindSplit FindingKind = "split"
	// FindAmbiguous: an address that names several production jobs, or a host where nothing
	// listens on the port: no dependency is inferred from it.
	FindAmbiguous FindingKind = "ambiguous"
	// FindUnresolved: a localhost address nothing on the caller's host listens on.
	FindUnresolved FindingKind = "unresolved"
	// FindCycle: inferred dependencies that form a cycle; the edge closing it gives no start
	// order.
	FindCycle FindingKind = "cycle"
	// FindReplicaDiff: replicas run as one instance although they differ (env, volumes...):
	// the first one's settings run locally.
	FindReplicaDiff FindingKind = "replica-diff"
)

const (
	noteAmbiguous  = FindAmbiguous
	noteUnresolved = FindUnresolved
)

var findingOrder = map[FindingKind]int{FindSplit: 0, FindAmbiguous: 1, FindUnresolved: 2, FindCycle: 3, FindReplicaDiff: 4}

// Finding is something about the model said once, in `graph` and `validate` (not on every
// command): the same address in a hundred env values is one finding with a count.
type Finding struct {
	Kind    FindingKind
	Subject string // the address, service or cycle it is about
	Detail  string
	At      string // where it is first said: "FILE:LINE:COL (job x, env KEY)"
	Count   int    // how many places say it (env values, jobs)
	// App is the service folder (or image repository) of the job it was found in ("" for
	// cycles): graph TARGET shows the findings of its closure only.
	App string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s: %s", f.Subject, f.Detail)
	if f.At != "" {
		s += " (" + f.At
		if f.Count > 1 {
			s += fmt.Sprintf(", and %d more", f.Count-1)
		}
		s += ")"
	}
	return s
}

var findingTitles = map[FindingKind]string{
	FindSplit:       "replicas split into several local services (each reachable as in production)",
	FindAmbiguous:   "addresses that name no single job: no dependency inferred (declare it with depends_on: if needed)",
	FindUnresolved:  "localhost addresses nothing on the caller's host listens on",
	FindCycle:       "dependency cycles in production's addresses: the edge closing each gives no start order",
	FindReplicaDiff: "replicas run as one local instance although they differ (the first one's settings run)",
}

// WriteFindings writes the findings of the given kinds (all when none), grouped by kind with
// one header line each and at most limit lines per kind (0: no limit), then "... N more".
func WriteFindings(w io.Writer, fs []Finding, limit int, kinds ...FindingKind) error {
	want := map[FindingKind]bool{}
	for _, k := range kinds {
		want[k] = true
	}
	byKind := map[FindingKind][]Finding{}
	for _, f := range fs {
		if len(kinds) == 0 || want[f.Kind] {
			byKind[f.Kind] = append(byKind[f.Kind], f)
		}
	}
	ks := make([]FindingKind, 0, len(byKind))
	for k := range byKind {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return findingOrder[ks[i]] < findingOrder[ks[j]] })
	for _, k := range ks {
		list := byKind[k]
		if _, err := fmt.Fprintf(w, "note: %d %s:\n", len(list), findingTitles[k]); err != nil {
			return err
		}
		for i, f := range list {
			if limit > 0 && i == limit {
				fmt.Fprintf(w, "  ... and %d more (clocal validate --all lists them)\n", len(list)-limit)
				break
			}
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	return nil
}

// notes collects findings while loading, merging the same (kind, subject, detail).
type notes struct {
	root  string
	byKey map[string]*Finding
	list  []*Finding
}

func newNotes(root string) *notes { return &notes{root: root, byKey: map[string]*Finding{}} }

func (n *notes) add(kind FindingKind, subject string, e *job.Env, ji *jobInfo, detail string) {
	key := string(kind) + "\x00" + subject + "\x00" + detail
	if f := n.byKey[key]; f != nil {
		f.Count++
		return
	}
	at := ""
	if e != nil {
		at = fmt.Sprintf("%s job %s env %s", relPos(n.root, e.Pos), ji.j.Name, e.Key)
	} else if ji != nil {
		at = fmt.Sprintf("%s job %s", relPos(n.root, ji.j.Pos), ji.j.Name)
	}
	f := &Finding{Kind: kind, Subject: subject, Detail: detail, At: at, Count: 1}
	if ji != nil {
		f.App = ji.app.name
	}
	n.byKey[key] = f
	n.list = append(n.list, f)
}

func (n *notes) findings() []Finding {
	out := make([]Finding, len(n.list))
	for i, f := range n.list {
		out[i] = *f
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return findingOrder[out[i].Kind] < findingOrder[out[j].Kind]
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}

// SplitNotice is the one line `config` prints about split replicas ("" when none).
func SplitNotice(fs []Finding) string {
	var apps []string
	for _, f := range fs {
		if f.Kind == FindSplit {
			apps = append(apps, f.Subject)
		}
	}
	if len(apps) == 0 {
		return ""
	}
	n := len(apps)
	if n > 5 {
		apps = append(apps[:5], "...")
	}
	return fmt.Sprintf("note: replicas of %d app(s) differ in image or port, or run next to unlike localhost partners on their hosts, and run as several services (%s): clocal graph says how", n, strings.Join(apps, ", "))
}
