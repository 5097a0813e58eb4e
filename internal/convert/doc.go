// Package convert turns production jobs, or a workspace selection, into compose YAML, and loads
// that YAML through compose-go.
//
// Two inputs:
//   - FromJobs / Jobs (`clocal convert PATH...`): one compose service per job, named by the job
//     name, production images as given, no profiles, no depends_on between jobs.
//   - FromWorkspace / Workspace: one compose service per local service. With a nil Selection the
//     full project: every service carries `profiles:` — its own name, the name of every service
//     whose closure holds it and of every profile whose closure holds it — so
//     `docker compose --profile X up` starts exactly what `clocal up X` starts and a bare
//     `docker compose up` starts nothing. With a Selection the trimmed project: exactly the
//     closure (plus the pause services it needs), no profiles key, profile overrides applied.
//
// The YAML is generated from plain structs with yaml.v3 (maps sorted, so it is deterministic)
// and is accepted by compose-go without warnings and by docker-compose v1 (`config -q`).
//
// # Rules
//
// | Production | Local (compose) | Function |
// |---|---|---|
// | one job (`clocal convert`) / one `services/<svc>/` folder (workspace) | one service; several instances of a folder are ONE service running the first job (file order); `split_instances: true` gives one service per job | FromJobs, FromWorkspace |
// | job name not a compose name | lowercased, invalid characters → `-`; original kept in `dev.clocal.job` | ServiceName |
// | host networking | one project bridge network `clocal` (no fixed external network, no `container_name`) | build |
// | `run_on_host` and job names | network aliases, so `git-1:8866` resolves unedited | Aliases |
// | jobs sharing a production host (transitively) | one network namespace owned by a pause service `host-<first host>` (`clocal/pause:local`) carrying the aliases, the published ports and the network; members get `network_mode: service:host-…` and `depends_on` it, so `localhost:9300` works; a lone service is its own owner | Groups, Plan.Owner |
// | listening port: env key matching `port_env` (default `port`, `PORT`, `*_port`, `*_PORT`) with an integer value 1–65535, or the service file's `ports:` (replaces the rule) | published `127.0.0.1:<p>:<p>`; `EphemeralPorts`: `127.0.0.1::<p>`; `BindAddress` changes the address; a port already published by another owner is published ephemerally (warning) | MatchPortKey, ParsePort, ListeningPorts, PublishPort |
// | volume `host_path` | named volume per (namespace group, host path): `<first host>_<path with / as _>` (e.g. `git-1_data`; a hash is appended when the path has other characters), `read_only` kept; never a bind of the developer's machine | VolumeName |
// | — (service file `mounts: {/data: ./.data/x}`) | read-write bind of a workspace folder (relative to the workspace root, must stay inside it, symlinks checked), replacing the job volume at that path | workspace.InsidePath |
// | — (service file `configs:`) | read-only bind of the local file over the image's (no swarm configs: works on Docker 20.10); a change needs a restart, not a rebuild | renderUnit |
// | envs | `environment`, every `$` escaped as `$$` (no interpolation); layers: job, service file `env`, profile overrides, `clocal.local.yaml` env (later wins) | MergeEnv, EscapeEnv |
// | `command` / `args` | `entrypoint` / `command` | renderUnit |
// | `cpus`, `memory_mb`, `user`, `working_dir` | `cpus`, `mem_limit: <n>m`, `user`, `working_dir` | MemLimit |
// | `restart` | kept when it is a compose policy (`never` → `no`, `on_failure` → `on-failure`); empty or unknown → `no` (a crash stays visible) | Restart |
// | image | production image; workspace: `Options.Images[svc]` (`clocal/<svc>:<hash12>`) when given | FromWorkspace |
// | — | `init: true`, `logging: json-file` (max-size 10m, max-file 3; clocal.yaml `log:`), `pull_policy: never`, labels `dev.clocal.job`, `dev.clocal.host`, `dev.clocal.source`, `dev.clocal.service` | renderUnit |
// | — (service file `healthcheck`) | `healthcheck` (a single string is CMD-SHELL); dependents wait for `service_healthy` | HealthcheckTest |
// | — (service file `privileged`, `docker_socket`) | `privileged: true`, bind of `/var/run/docker.sock` — only when asked | renderUnit |
// | dependencies (workspace: declared + inferred, cycle-closing inferred edges excluded) | `depends_on` (`service_healthy` when the dependency has a healthcheck) | FromWorkspace |
package convert
