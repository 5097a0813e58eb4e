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
// | job names; `HOST:PORT` | job names are network aliases of their namespace owner; a production host is an alias of the one namespace its listeners live in, else a router service `router-<host>` (`router.Image`, made present by internal/routerimage) carrying the host name and forwarding each port to the owner listening on it, so `git-1:8866` reaches exactly that job | build, Plan.Routers |
// | `localhost:PORT` between jobs of one host (workspace.Groups: localhost references and `share_localhost:` only) | one network namespace owned by a pause service `host-<first host>` (`clocal/pause:local`) carrying the aliases, the published ports (label `dev.clocal.ports` says which member listens on each) and the network; members get `network_mode: service:host-…` and `depends_on` it; a lone service is its own owner | Plan.Groups, Plan.Owner |
// | listening port (workspace.Service.Ports: `port_env` keys with a port value, `ports:`) | published `127.0.0.1:<p>:<p>`; `EphemeralPorts`: on a port `Options.FreePort` picks, else `127.0.0.1::<p>`; a port a running container publishes (`Options.HostPorts`) is kept; `BindAddress` changes the address; a port another owner publishes already (or `Options.PortTaken` says is taken here) is published on a daemon-chosen port (`Plan.Rehomed`) | MatchPortKey, ParsePort, PublishPort |
// | volume `host_path` | named volume per (first production host, host path): `<first host>_<path with / as _>` (e.g. `git-1_data`; a hash is appended when the path has other characters), `read_only` kept; never a bind of the developer's machine | VolumeName |
// | — (service file `mounts: {/data: ./.data/x}`) | read-write bind of a workspace folder (relative to the workspace root, must stay inside it, symlinks checked), replacing the job volume at that path | workspace.InsidePath |
// | — (service file `configs:`) | read-only bind of the local file over the image's (no swarm configs: works on Docker 20.10); a change needs a restart, not a rebuild. On a remote Docker host (Options.Remote): a compose config with the file's content, copied in before the container starts, and a dev.clocal.configs hash label (a change recreates the container); `mounts:` are refused there (RemoteMountError) | renderUnit |
// | envs | `environment`, every `$` escaped as `$$` (no interpolation); layers: job, service file `env`, profile overrides, `clocal.local.yaml` env (later wins) | MergeEnv, EscapeEnv |
// | `command` / `args` | `entrypoint` / `command` | renderUnit |
// | `cpus`, `memory_mb`, `user`, `working_dir` | `cpus`, `mem_limit: <n>m`, `user`, `working_dir` | MemLimit |
// | `restart` | kept when it is a compose policy (`never` → `no`, `on_failure` → `on-failure`); empty or unknown → `no` (a crash stays visible) | Restart |
// | image | production image (`Plan.Prebuilt`: services clocal does not build); workspace: `Options.Images[svc]` (`clocal/<svc>:<hash12>`) when given | FromWorkspace |
// | — | `init: true`, `logging: json-file` (max-size 10m, max-file 3; clocal.yaml `log:`), `pull_policy: never`, labels `dev.clocal.job`, `dev.clocal.host`, `dev.clocal.source`, `dev.clocal.service` | renderUnit |
// | — (service file `healthcheck`) | `healthcheck` (a single string is CMD-SHELL); dependents wait for `service_healthy` | HealthcheckTest |
// | — (service file `privileged`, `docker_socket`) | `privileged: true`, bind of `/var/run/docker.sock` — only when asked | renderUnit |
// | dependencies (workspace: declared + addresses, cycle-closing edges excluded) | `depends_on` (`service_healthy` when the dependency has a healthcheck), transitively reduced: an entry another dependency already implies is left out (compose-go's and compose's cycle checks walk every path) | FromWorkspace, reduceDependsOn |
package convert
