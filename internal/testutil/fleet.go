package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A generated fleet workspace: N services shaped like production's (one job per instance on
// its own host, all listening on 8080, a dependency written as HOST:PORT in an *_addr env),
// each with a build.sh and a FROM scratch Dockerfile, and one shared source folder (lib/)
// that every service's build reads: an edit there rebuilds all of them. The fleet benchmark
// (scripts/bench/fleet) and the dev loop's many-services tests use it.
//
//	clocal.yaml, profiles/all.yaml
//	lib/                  shared code (Go package "fleet/lib": the HTTP server) and marker.txt
//	apps/svc-NN/main.go   each service's own source (calls lib.Serve)
//	services/svc-NN/      build.sh, Dockerfile, svc-NN.job, service.yaml
//
// Every service serves GET / as JSON {"service", "marker"}: marker is lib/marker.txt as the
// service's image holds it, followed by lib's compiled-in Marker constant. GET /healthz
// answers 200 once the server listens, after its dependency's /healthz when the service
// has HEALTH_UPSTREAM set; GET /config returns the file at $CONFIG_FILE. `/app/server
// -healthcheck` is the healthcheck (the example's 1 s interval).

// FleetOptions shape a generated fleet.
type FleetOptions struct {
	// Services is the number of services (svc-00 ...).
	Services int
	// Fanout: service i depends on service (i-1)/Fanout (a tree rooted at svc-00); 0: no
	// dependencies.
	Fanout int
	// ServerBin, when set, is a prebuilt server binary (FleetServerBinary) that every
	// build.sh copies instead of compiling: builds cost a copy, for tests. Unset, each
	// build.sh compiles its service with the Go toolchain (the benchmark).
	ServerBin string
	// Env is added to every service's env (service.yaml).
	Env map[string]string
	// ServiceEnv adds env per service.
	ServiceEnv map[string]map[string]string
	// Retries of the healthcheck (default 60, the example's); ServiceRetries per service.
	Retries        int
	ServiceRetries map[string]int
	// Configs: services that mount services/<svc>/config/app.json at /app/config.json
	// (configs:), with CONFIG_FILE pointing at it.
	Configs []string
	// ExtraBuild is shell appended to every build.sh (runs in the service folder).
	ExtraBuild string
}

// FleetName returns the name of service i.
func FleetName(i int) string { return fmt.Sprintf("svc-%02d", i) }

// WriteFleet writes a fleet workspace into dir (which must exist) and returns the service
// names.
func WriteFleet(dir string, o FleetOptions) ([]string, error) {
	retries := o.Retries
	if retries == 0 {
		retries = 60
	}
	files := map[string]string{
		"clocal.yaml":    "name: fleet\nport_env: [port]\n",
		"go.mod":         "module fleet\n\ngo 1.21\n",
		"lib/server.go":  fleetServer,
		"lib/marker.go":  "package lib\n\n// Marker is compiled into every service: edit it to rebuild the fleet.\nconst Marker = \"v1\"\n",
		"lib/marker.txt": "m1\n",
	}
	configs := map[string]bool{}
	for _, c := range o.Configs {
		configs[c] = true
	}
	var names []string
	for i := 0; i < o.Services; i++ {
		name := FleetName(i)
		names = append(names, name)
		job := fmt.Sprintf("job: <\n  name: %q\n  image: \"registry.company/fleet/%s:prod\"\n  run_on_host: %q\n  envs: < key: \"port\" value: \"8080\" >\n  envs: < key: \"SERVICE\" value: %q >\n",
			name+"-1", name, "host-"+name, name)
		if o.Fanout > 0 && i > 0 {
			job += fmt.Sprintf("  envs: < key: \"upstream_addr\" value: \"host-%s:8080\" >\n", FleetName((i-1)/o.Fanout))
		}
		job += ">\n"
		env := map[string]string{}
		for k, v := range o.Env {
			env[k] = v
		}
		for k, v := range o.ServiceEnv[name] {
			env[k] = v
		}
		sy := "source: ../../apps/" + name + "\nbuild:\n  outputs: [.src/]\n  inputs: [../../lib]\n"
		if o.ServerBin != "" {
			sy += fmt.Sprintf("  env: {FLEET_SERVER_BIN: %q}\n", o.ServerBin)
		}
		r := retries
		if n, ok := o.ServiceRetries[name]; ok {
			r = n
		}
		sy += fmt.Sprintf("healthcheck: {test: [CMD, /app/server, -healthcheck], interval: 1s, timeout: 10s, retries: %d}\n", r)
		if configs[name] {
			env["CONFIG_FILE"] = "/app/config.json"
			sy += "configs: [{source: config/app.json, target: /app/config.json}]\n"
			files["services/"+name+"/config/app.json"] = "{\"greeting\": \"hello\"}\n"
		}
		if len(env) > 0 {
			sy += "env: {"
			first := true
			for _, k := range sortedKeys(env) {
				if !first {
					sy += ", "
				}
				first = false
				sy += fmt.Sprintf("%s: %q", k, env[k])
			}
			sy += "}\n"
		}
		build := "#!/bin/sh\nset -eu\ncur=$(pwd)\nmkdir -p .src\n"
		if o.ServerBin != "" {
			build += "cp \"$FLEET_SERVER_BIN\" .src/server\n"
		} else {
			build += "cd \"$CLOCAL_SOURCE\"\nCGO_ENABLED=0 go build -trimpath -o \"$cur/.src/server\" .\ncd \"$cur\"\n"
		}
		build += "cp ../../lib/marker.txt .src/marker\n" + o.ExtraBuild
		files["services/"+name+"/build.sh"] = build
		files["services/"+name+"/Dockerfile"] = "FROM scratch\nCOPY .src/server /app/server\nCOPY .src/marker /app/marker\nUSER 65534:65534\nENTRYPOINT [\"/app/server\"]\n"
		files["services/"+name+"/"+name+".job"] = job
		files["services/"+name+"/service.yaml"] = sy
		files["apps/"+name+"/main.go"] = fmt.Sprintf("package main\n\nimport \"fleet/lib\"\n\nfunc main() { lib.Main(%q) }\n", name)
	}
	files["profiles/all.yaml"] = "description: every service of the fleet\nservices: [" + strings.Join(names, ", ") + "]\n"
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(c), mode); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// FleetServerBinary compiles the fleet's server (static) from a workspace WriteFleet wrote
// into out, for FleetOptions.ServerBin.
func FleetServerBinary(dir, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./apps/"+FleetName(0))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the fleet server: %v\n%s", err, b)
	}
	return nil
}

// fleetServer is lib/server.go of a fleet workspace.
const fleetServer = `// Package lib is the code every service of the fleet compiles in.
package lib

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Main serves the service (or runs its healthcheck with -healthcheck).
func Main(name string) {
	if len(os.Args) > 1 && os.Args[1] == "-healthcheck" {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:8080/healthz")
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Println(resp.Status)
			os.Exit(1)
		}
		return
	}
	if s := os.Getenv("SERVICE"); s != "" {
		name = s
	}
	if d, err := time.ParseDuration(os.Getenv("STARTUP_DELAY")); err == nil {
		time.Sleep(d) // a service slow to start
	}
	data, _ := os.ReadFile("/app/marker")
	marker := strings.TrimSpace(string(data)) + "/" + Marker
	upstream := os.Getenv("upstream_addr")
	client := &http.Client{Timeout: 2 * time.Second}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if upstream != "" && os.Getenv("HEALTH_UPSTREAM") != "" {
			resp, err := client.Get("http://" + upstream + "/healthz")
			if err != nil {
				http.Error(w, "upstream: "+err.Error(), 503)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				http.Error(w, "upstream: "+resp.Status, 503)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(os.Getenv("CONFIG_FILE"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(data)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"service": name, "marker": marker})
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`
