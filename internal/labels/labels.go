// Package labels is the one place where the names of the labels clocal sets and reads live:
// clocal's own (dev.clocal.*) and the compose ones it relies on (com.docker.compose.*).
// Add a new label here, never as a string literal elsewhere. The package imports nothing,
// so every step (convert, build, engine, stack, the housekeeping packages) can use it.
package labels

// clocal's labels on containers, images, volumes and networks.
const (
	// Service is the local service name (job name for `clocal convert`). On containers
	// and images: it tells clocal's objects from everyone else's.
	Service = "dev.clocal.service"
	// Job is the comma-joined production job names of a container.
	Job = "dev.clocal.job"
	// Host is the comma-joined production hosts of a container (on volumes: the network
	// namespace group the volume belongs to).
	Host = "dev.clocal.host"
	// Source is the comma-joined job files a container comes from.
	Source = "dev.clocal.source"
	// Role is "pause" on the pause services that own shared network namespaces, "router"
	// on the services standing for a production host whose jobs run in several namespaces.
	Role = "dev.clocal.role"
	// Members lists a pause service's member services, comma-joined.
	Members = "dev.clocal.members"
	// Ports says, on a pause service, which member listens on each port it publishes:
	// comma-joined PORT=member.
	Ports = "dev.clocal.ports"
	// HostPath is, on data volumes, the production host path the volume stands for.
	HostPath = "dev.clocal.host-path"
	// Configs is the hash of the configs: files a container got as content (a stack on a
	// remote Docker host): compose's config hash does not cover the content, so a changed
	// file changes this label and the container is recreated with it.
	Configs = "dev.clocal.configs"

	// Hash is an image's content hash (the tag of clocal/<service>:<hash>).
	Hash = "dev.clocal.hash"
	// BuildDir is the service folder an image's build.sh ran in: images of one build folder
	// and content hash are the same build (split replicas of one app reuse it).
	BuildDir = "dev.clocal.build-dir"
	// BuiltAt is when an image was built (RFC 3339, UTC).
	BuiltAt = "dev.clocal.built-at"
	// SourceRev is the git revision of the source folder an image was built from.
	SourceRev = "dev.clocal.source-rev"
	// Workspace is the workspace root an image was built for.
	Workspace = "dev.clocal.workspace"

	// OwnerPID and OwnerHost name the process that owns a stack (test stacks): `clocal
	// prune --stale` removes stacks whose owner is gone.
	OwnerPID  = "dev.clocal.owner-pid"
	OwnerHost = "dev.clocal.owner-host"
	// OwnerStart is the owner's start time as the kernel counts it (field 22 of
	// /proc/PID/stat): a PID that a new process got after the owner was killed must not
	// keep the owner's leftovers alive.
	OwnerStart = "dev.clocal.owner-start"

	// Readiness is how clocal probes a container's readiness itself while it waits for it
	// (convert.Readiness: the service file's interval, timeout, retries, start period);
	// Docker's own probes are slow (internal/convert/health.go).
	Readiness = "dev.clocal.readiness"

	// Test marks images made by tests; Bench marks the benchmarks' objects.
	Test  = "dev.clocal.test"
	Bench = "dev.clocal.bench"
)

// Values of [Role]: pause services and routers.
const (
	RolePause  = "pause"
	RoleRouter = "router"
)

// Compose's labels, with the values of github.com/docker/compose/v2/pkg/api (not imported
// here: that package pulls the whole compose library; the engine's tests check the values
// match).
const (
	ComposeProject      = "com.docker.compose.project"
	ComposeService      = "com.docker.compose.service"
	ComposeVersion      = "com.docker.compose.version"
	ComposeWorkingDir   = "com.docker.compose.project.working_dir"
	ComposeConfigFiles  = "com.docker.compose.project.config_files"
	ComposeOneoff       = "com.docker.compose.oneoff"
	ComposeNetwork      = "com.docker.compose.network"
	ComposeVolume       = "com.docker.compose.volume"
	ComposeDependencies = "com.docker.compose.depends_on"
	// ComposeNumber is a container's number within its service; ComposeReplace marks a
	// container compose created to replace another (recreate): create, stop and remove the
	// old one, rename, start.
	ComposeNumber  = "com.docker.compose.container-number"
	ComposeReplace = "com.docker.compose.replace"
)

// Filter returns the value of a Docker "label" filter matching key=value ("key" alone when
// value is empty: any value).
func Filter(key, value string) string {
	if value == "" {
		return key
	}
	return key + "=" + value
}

// Compose returns the labels compose sets on the containers it creates for a service
// (project, service, version, working dir, config files, one-off=False), exactly as `docker
// compose` does when it loads a project: without them compose's ps, stop and down find
// nothing.
func Compose(project, service, workingDir string, configFiles []string, version string) map[string]string {
	files := ""
	for i, f := range configFiles {
		if i > 0 {
			files += ","
		}
		files += f
	}
	return map[string]string{
		ComposeProject:     project,
		ComposeService:     service,
		ComposeVersion:     version,
		ComposeWorkingDir:  workingDir,
		ComposeConfigFiles: files,
		ComposeOneoff:      "False",
	}
}
