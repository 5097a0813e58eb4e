// Command genfleet writes a generated production-shaped fleet (internal/fleet) as a clocal
// workspace: clocal.yaml with jobs_root and schema:, job files per host and per cluster
// under prod/, a production .proto, service folders for some apps, profiles/all.yaml.
//
//	go run ./scripts/bench/genfleet -apps 1000 -hosts 300 -out scripts/bench/out/fleet-1000
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/clocal-dev/clocal/internal/fleet"
)

func main() {
	o := fleet.Options{}
	flag.IntVar(&o.Apps, "apps", 1000, "apps (services)")
	flag.IntVar(&o.Hosts, "hosts", 0, "production hosts (default apps*3/10)")
	flag.Int64Var(&o.Seed, "seed", 1, "random seed")
	flag.IntVar(&o.MaxReplicas, "replicas", 3, "most replicas per app")
	flag.Float64Var(&o.Sidecars, "sidecars", 0.1, "fraction of apps that are sidecars")
	flag.Float64Var(&o.PortVariants, "port-variants", 0.05, "fraction of multi-replica apps with a replica on another port")
	flag.BoolVar(&o.Cycles, "cycles", false, "add the odd dependency back up (cycles)")
	flag.Float64Var(&o.Agents, "agents", 0, "fraction of apps whose jobs reach a per-host agent (on every host) over localhost")
	flag.BoolVar(&o.FQDN, "fqdn", false, "write every other host's run_on_host as its full name, and addresses in the other form")
	out := flag.String("out", "scripts/bench/out/fleet", "workspace folder to write (must not exist)")
	flag.Parse()
	if _, err := os.Stat(*out); err == nil {
		fmt.Fprintf(os.Stderr, "genfleet: %s exists\n", *out)
		os.Exit(2)
	}
	f := fleet.Generate(o)
	if err := f.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d apps, %d jobs on %d hosts\n", *out, len(f.Apps), len(f.Jobs), len(f.Hosts))
}
