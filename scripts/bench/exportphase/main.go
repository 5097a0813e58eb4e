// Command exportphase shows where the daemon's BuildKit export of a fresh layer ends on the
// wall clock. On a storage driver that dockerd diffs naively (fuse-overlayfs, vfs, overlay2
// without native diff), every diff of a layer with a parent sleeps until the next whole
// second, so "exporting layers" ends just after a second boundary whatever its own work
// was: the "ends at" column stays near .000 while the pause before each build varies. See
// scripts/bench/devloop/README.md, "Phase".
//
//	go run ./scripts/bench/exportphase -n 8 -pause 700ms
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/docker/docker/client"
	bkclient "github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

func main() {
	n := flag.Int("n", 8, "builds")
	pause := flag.Duration("pause", 700*time.Millisecond, "pause before each build")
	size := flag.Int("size", 10<<20, "bytes of the fresh file each build copies")
	workdir := flag.Bool("workdir", true, "end the Dockerfile with WORKDIR (a layer with a parent); false: one layer without a parent, which does not wait")
	flag.Parse()
	if err := run(*n, *pause, *size, *workdir); err != nil {
		fmt.Fprintln(os.Stderr, "exportphase:", err)
		os.Exit(1)
	}
}

func run(n int, pause time.Duration, size int, workdir bool) error {
	ctx := context.Background()
	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	info, err := docker.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("storage driver %s %v\n", info.Driver, info.DriverStatus)
	c, err := bkclient.New(ctx, "",
		bkclient.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return docker.DialHijack(ctx, "/grpc", "h2c", nil)
		}),
		bkclient.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return docker.DialHijack(ctx, "/session", proto, meta)
		}))
	if err != nil {
		return err
	}
	defer c.Close()
	dir, err := os.MkdirTemp("", "exportphase")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// WORKDIR after COPY: a second layer whose parent is the COPY layer, as in the
	// example services' production Dockerfiles.
	dockerfile := "FROM scratch\nCOPY bin /app/bin\n"
	if workdir {
		dockerfile += "WORKDIR /app\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	tag := fmt.Sprintf("clocal/exportphase:%d", time.Now().UnixNano())
	defer exec.Command("docker", "rmi", "-f", tag).Run()
	fmt.Printf("%-6s %-10s %-18s %s\n", "build", "solve", "exporting layers", "ends at (s.ms)")
	buf := make([]byte, size)
	for i := range n {
		time.Sleep(pause)
		_, _ = rand.Read(buf)
		if err := os.WriteFile(filepath.Join(dir, "bin"), buf, 0o755); err != nil {
			return err
		}
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return err
		}
		status := make(chan *bkclient.SolveStatus)
		var started, done time.Time
		finished := make(chan struct{})
		// Older daemons report the step as a vertex, newer ones as a status of the export.
		note := func(name string, start, end *time.Time) {
			if name != "exporting layers" {
				return
			}
			if start != nil {
				started = *start
			}
			if end != nil {
				done = *end
			}
		}
		go func() {
			defer close(finished)
			for st := range status {
				for _, v := range st.Vertexes {
					note(v.Name, v.Started, v.Completed)
				}
				for _, s := range st.Statuses {
					note(s.ID, s.Started, s.Completed)
				}
			}
		}()
		t0 := time.Now()
		_, err = c.Solve(ctx, nil, bkclient.SolveOpt{
			Frontend:    "dockerfile.v0",
			LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
			Exports:     []bkclient.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": tag}}},
		}, status)
		<-finished
		if err != nil {
			return err
		}
		if done.IsZero() {
			return fmt.Errorf("no \"exporting layers\" step reported")
		}
		fmt.Printf("%-6d %-10v %-18v %d.%03d\n", i, time.Since(t0).Round(time.Millisecond), done.Sub(started).Round(time.Millisecond), done.Unix()%60, done.Nanosecond()/1e6)
	}
	return nil
}
