// Command fleetload loads a workspace, then converts the trimmed project of every service
// and loads it through compose-go (what `clocal up SERVICE` does before anything starts),
// and prints the distribution of those load times and the biggest closure:
//
//	fleetload -w scripts/bench/out/fleet-1000            # every service
//	fleetload -w scripts/bench/out/fleet-1000 -biggest   # print the service with the biggest closure
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/workspace"
)

func main() {
	dir := flag.String("w", ".", "workspace")
	biggest := flag.Bool("biggest", false, "print the service with the biggest closure and exit")
	flag.Parse()
	t0 := time.Now()
	ws, err := workspace.Load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	loadWS := time.Since(t0)
	target, size := "", 0
	for _, s := range ws.ServiceNames() {
		if c := len(ws.Closure([]string{s})); c > size {
			target, size = s, c
		}
	}
	if *biggest {
		fmt.Println(target)
		return
	}
	var times []time.Duration
	var worst string
	var worstT time.Duration
	sizes := 0
	for _, s := range ws.ServiceNames() {
		sel, err := ws.Resolve([]string{s})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		sizes += len(sel.Services)
		y, err := convert.Workspace(ws, sel, convert.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		t := time.Now()
		if _, err := convert.Load(context.Background(), y, "fleetload", ws.Root); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s, err)
			os.Exit(1)
		}
		d := time.Since(t)
		times = append(times, d)
		if d > worstT {
			worst, worstT = s, d
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	pct := func(p float64) time.Duration { return times[int(p*float64(len(times)-1))] }
	fmt.Printf("%d services (workspace load %v); trimmed project through compose-go: median %v, p99 %v, max %v (%s); closure mean %.1f, biggest %d (%s)\n",
		len(times), loadWS.Round(time.Millisecond), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond),
		worstT.Round(time.Millisecond), worst, float64(sizes)/float64(len(times)), size, target)
}
