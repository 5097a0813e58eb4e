package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/internal/job"
)

// Which production job belongs to which local service (see the package doc):
//
//  1. Job files are read once each: every folder's own files (services/<svc>/*.job, or its
//     `jobs:` globs) and, when clocal.yaml sets jobs_root, every job file under it (files per
//     app, per host, per cluster or mixed: production's folder as it is).
//  2. A job belongs to the folder whose service.yaml `match:` matches it (image repository or
//     job name globs); two folders matching one job is an error.
//  3. Else, a job in a folder's own file belongs to that folder when the file holds one app
//     (one image repository) or the job's image repository is the folder's name; a file
//     holding several apps is split by image, as jobs_root files are.
//  4. Else a job belongs to the folder named like its image repository (last path element,
//     no registry, no tag), unless that folder says otherwise with `match:`.
//  5. Else it belongs to a service named like its image repository that clocal does not
//     build: it runs its production image as is (Service.Prebuilt).

// Match is the `match:` section of service.yaml: which production jobs the folder runs,
// instead of the default rule (image repository name == folder name).
type Match struct {
	// Image globs match the image repository without tag or digest (MatchImage):
	// "billing*", "*/billing", "pay/billing", "registry.acme.io/pay/*", "**/billing".
	Image StringList `yaml:"image"`
	// Job globs match job names ("billing-*").
	Job StringList `yaml:"job"`
}

func (m *Match) empty() bool { return m == nil || len(m.Image) == 0 && len(m.Job) == 0 }

// matches reports whether the job matches one of the globs.
func (m *Match) matches(j *job.Job) bool {
	if m == nil {
		return false
	}
	repo := ImageRepo(j.Image)
	for _, g := range m.Image {
		if MatchImage(g, repo) {
			return true
		}
	}
	for _, g := range m.Job {
		if ok, _ := path.Match(g, j.Name); ok {
			return true
		}
	}
	return false
}

// MatchImage reports whether an image glob matches an image repository (no tag, no
// digest). The glob is matched element by element ('/' separates elements; in an element,
// '*', '?' and [...] as in path.Match; "**" is any number of elements) against the
// repository's last elements: "billing" and "bill*" match the last one, "*/billing" and
// "pay/billing" the last two, and a glob with as many elements as the repository (or a
// leading "**") matches it whole: "registry.corp/team/*" matches every image of that team.
// A tag or digest in the glob is ignored ("*/billing:2" is "*/billing").
func MatchImage(glob, repo string) bool {
	glob = ImageRepo(glob)
	g := strings.Split(glob, "/")
	r := strings.Split(repo, "/")
	// anchored at the end: try the glob against every suffix of the repository that is
	// long enough ("**" may match none)
	for start := 0; start <= len(r); start++ {
		if matchElems(g, r[start:]) {
			return true
		}
	}
	return false
}

func matchElems(g, r []string) bool {
	if len(g) == 0 {
		return len(r) == 0
	}
	if g[0] == "**" {
		for k := 0; k <= len(r); k++ {
			if matchElems(g[1:], r[k:]) {
				return true
			}
		}
		return false
	}
	if len(r) == 0 {
		return false
	}
	if ok, _ := path.Match(g[0], r[0]); !ok {
		return false
	}
	return matchElems(g[1:], r[1:])
}

// ImageRepo returns the repository of an image reference without tag or digest:
// "registry.acme.io:5000/team/app:1.2@sha256:..." -> "registry.acme.io:5000/team/app".
func ImageRepo(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i >= 0 && !strings.Contains(image[i:], "/") {
		image = image[:i]
	}
	return image
}

// AppName is the name of the app a job's image is: the last path element of its repository
// ("registry.acme.io/team/billing:2" -> "billing"), as a service name.
func AppName(image string) string {
	repo := ImageRepo(image)
	return repo[strings.LastIndexByte(repo, '/')+1:]
}

// folder is one services/<name>/ folder while loading.
type folder struct {
	name    string
	dir     string
	file    *ServiceFile
	lines   map[string]int
	svcFile string
	// own holds the job files the folder names itself (services/<svc>/*.job or jobs: globs).
	own map[string]bool
	// claimed is set when at least one job was assigned to the folder.
	claimed bool
}

// app is the jobs of one folder, or of one image repository no folder claims.
type app struct {
	name   string
	folder *folder // nil: not built here, runs its production image
	jobs   []*job.Job
}

// perJob reports whether the app runs one local instance per job (split_instances:).
func (a *app) perJob() bool { return a.folder != nil && a.folder.file.SplitInstances }

// jobFile is one job file read.
type jobFile struct {
	abs, rel string
	jobs     []*job.Job
}

// readFolders reads every services/<svc>/service.yaml and finds each folder's own job files.
func (l *loader) readFolders(ws *Workspace) []*folder {
	entries, err := os.ReadDir(filepath.Join(l.root, "services"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.errs = append(l.errs, fmt.Errorf("services: %w", err))
		return nil
	}
	var out []*folder
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f := &folder{name: e.Name(), file: &ServiceFile{}, lines: map[string]int{}, own: map[string]bool{},
			dir: filepath.Join(l.root, "services", e.Name())}
		f.svcFile = "services/" + f.name + "/" + ServiceFileName
		if !serviceNameRE.MatchString(f.name) {
			l.errorf("services/"+f.name, 0, "folder name %q is not a valid service name (lowercase letters, digits, '.', '_', '-')", f.name)
			continue
		}
		l.read(f.svcFile, f.file, f.lines, true)
		l.ownFiles(ws, f)
		out = append(out, f)
	}
	return out
}

// ownFiles finds the job files a folder names: its `jobs:` globs (relative to jobs_root when
// set, else to the folder), or *.job in the folder.
func (l *loader) ownFiles(ws *Workspace, f *folder) {
	globs := f.file.Jobs
	base := f.dir
	if len(globs) == 0 {
		globs = []string{"*.job"}
	} else if root := ws.Config.JobsRoot; root != "" {
		base = root
		if !filepath.IsAbs(base) {
			base = filepath.Join(l.root, filepath.FromSlash(root))
		}
	}
	for i, g := range globs {
		matches, err := filepath.Glob(filepath.Join(base, filepath.FromSlash(g)))
		line := f.lines[fmt.Sprintf("jobs[%d]", i)]
		if err != nil {
			l.errorf(f.svcFile, line, "jobs[%d]: invalid glob %q", i, g)
			continue
		}
		n := 0
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && !st.IsDir() {
				n++
				if owner, ok := l.fileOwner[m]; ok && owner != f.name {
					l.errorf(f.svcFile, line, "jobs[%d]: %s is already the job file of services/%s (each job file belongs to one service folder; with jobs_root, use match: to pick jobs)", i, l.rel(m), owner)
					continue
				}
				l.fileOwner[m] = f.name
				f.own[m] = true
			}
		}
		if n == 0 && len(f.file.Jobs) > 0 {
			l.errorf(f.svcFile, line, "jobs[%d]: %q matches no files", i, g)
		}
	}
}

// readJobFiles parses every job file once: the folders' own files, then (when set) every job
// file under jobs_root, in path order.
func (l *loader) readJobFiles(ws *Workspace, folders []*folder) []*jobFile {
	var abs []string
	seen := map[string]bool{}
	for _, f := range folders {
		for p := range f.own {
			abs = append(abs, p)
		}
	}
	if root := l.jobsRoot; root != "" {
		dir := root
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(l.root, filepath.FromSlash(root))
		}
		files, err := job.FilesMatching([]string{dir}, ws.Config.JobsFiles)
		if err != nil {
			l.errorf(ConfigFile, l.cfgLines["jobs_root"], "jobs_root: %v", err)
		}
		abs = append(abs, files...)
	}
	sort.Strings(abs)
	var out []*jobFile
	for _, p := range abs {
		if seen[p] {
			continue
		}
		seen[p] = true
		rel := l.rel(p)
		jobs, errs, err := l.schema.ReadFile(p, rel)
		if err != nil {
			l.errs = append(l.errs, fmt.Errorf("%s: %w", rel, err))
			continue
		}
		for _, e := range errs {
			l.errs = append(l.errs, e)
		}
		if len(errs) == 0 && len(jobs) == 0 && l.fileOwner[p] != "" {
			l.errorf(rel, 0, "no job in file")
		}
		out = append(out, &jobFile{abs: p, rel: rel, jobs: jobs})
	}
	return out
}

// assign gives every job to an app (see the rules at the top of this file). Apps are
// returned sorted by name; an app's jobs keep file order.
func (l *loader) assign(folders []*folder, files []*jobFile) []*app {
	byName := map[string]*folder{}
	var matchers []*folder
	for _, f := range folders {
		byName[f.name] = f
		if f.file.Match.empty() {
			continue
		}
		matchers = append(matchers, f)
		for i, g := range append(append([]string(nil), f.file.Match.Image...), f.file.Match.Job...) {
			if _, err := path.Match(g, ""); err != nil {
				l.errorf(f.svcFile, f.lines["match"], "match: invalid glob %q (entry %d)", g, i)
			}
		}
	}
	apps := map[string]*app{}
	add := func(name string, f *folder, j *job.Job) {
		a := apps[name]
		if a == nil {
			a = &app{name: name, folder: f}
			apps[name] = a
		}
		if f != nil {
			f.claimed = true
		}
		a.jobs = append(a.jobs, j)
	}
	jobOwner := map[string]string{} // lowercased job name -> first position
	for _, jf := range files {
		owner := byName[l.fileOwner[jf.abs]]
		oneApp := true
		for _, j := range jf.jobs {
			if AppName(j.Image) != AppName(jf.jobs[0].Image) {
				oneApp = false
			}
		}
		for _, j := range jf.jobs {
			if j.Name == "" || j.Image == "" {
				continue // reported by package job
			}
			key := strings.ToLower(j.Name)
			if prev, dup := jobOwner[key]; dup {
				if key != "" {
					l.jobErrorf(j, "job %q is also defined at %s", j.Name, prev)
				}
				continue
			}
			jobOwner[key] = j.Pos.String()
			var hits []*folder
			for _, f := range matchers {
				if f.file.Match.matches(j) {
					hits = append(hits, f)
				}
			}
			name := AppName(j.Image)
			switch {
			case len(hits) > 1:
				l.jobErrorf(j, "job %q is matched by both %s and %s (match: must pick each job once)", j.Name, hits[0].svcFile, hits[1].svcFile)
			case len(hits) == 1:
				add(hits[0].name, hits[0], j)
			case owner != nil && owner.file.Match.empty() && (oneApp || name == owner.name):
				add(owner.name, owner, j)
			case byName[name] != nil && byName[name].file.Match.empty():
				add(name, byName[name], j)
			case byName[name] != nil:
				l.jobErrorf(j, "job %q runs image %s, whose name is the service folder services/%s, but its match: does not pick the job (add it to match:, or rename the folder)", j.Name, j.Image, name)
			case !serviceNameRE.MatchString(name):
				l.jobErrorf(j, "job %q: image %q has no repository name clocal can use as a service name; claim the job with match: in a service folder", j.Name, j.Image)
			default:
				add(name, nil, j)
			}
		}
	}
	for _, f := range folders {
		if f.claimed {
			continue
		}
		switch {
		case !f.file.Match.empty():
			l.errorf(f.svcFile, f.lines["match"], "match: picks no job")
		case len(f.file.Jobs) > 0 || len(f.own) > 0:
			// the glob and job errors say it
		case l.jobsRoot != "":
			l.errorf("services/"+f.name, 0, "no job: no *.job file in the folder and no job under jobs_root %s runs an image named %q (set match: in %s)", l.jobsRoot, f.name, ServiceFileName)
		default:
			l.errorf("services/"+f.name, 0, "no job files (*.job) in the service folder; add one or set jobs: in %s", ServiceFileName)
		}
	}
	out := make([]*app, 0, len(apps))
	for _, a := range apps {
		out = append(out, a)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].name < out[k].name })
	return out
}
