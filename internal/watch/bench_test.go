//go:build !windows

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	bigTreeOnce sync.Once
	bigTreeDir  string
	bigTreeErr  error
)

// bigTree creates, once per test binary, a 100,000-file tree in 5,000 directories
// (50 top directories × 100, 20 files each), plus a .git directory and an ignored
// node_modules that must not be walked.
func bigTree(b *testing.B) string {
	b.Helper()
	bigTreeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "watch-bench-")
		if err != nil {
			bigTreeErr = err
			return
		}
		bigTreeDir = dir
		for i := range 50 {
			for j := range 100 {
				d := filepath.Join(dir, fmt.Sprintf("pkg%02d", i))
				if j > 0 {
					d = filepath.Join(d, fmt.Sprintf("sub%02d", j))
				}
				if err := os.MkdirAll(d, 0o755); err != nil {
					bigTreeErr = err
					return
				}
				for k := range 20 {
					f, err := os.Create(filepath.Join(d, fmt.Sprintf("file%02d.go", k)))
					if err != nil {
						bigTreeErr = err
						return
					}
					f.Close()
				}
			}
		}
		for _, d := range []string{".git/objects/aa", "node_modules/lib/dist"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				bigTreeErr = err
				return
			}
		}
	})
	if bigTreeErr != nil {
		b.Fatal(bigTreeErr)
	}
	return bigTreeDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigTreeDir != "" {
		os.RemoveAll(bigTreeDir)
	}
	os.Exit(code)
}

// procStatusKB reads a "VmRSS"-style field of /proc/self/status, in KiB.
func procStatusKB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(n)
		}
	}
	return -1
}

// cpuTime is the user+system CPU time of this process: unlike wall time, it does not
// depend on what else runs on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWatchStartup100k measures New (walk + one inotify watch per directory) on a
// 100,000-file tree: ns/op is the time to ready. It also reports the process RSS once
// ready, the peak RSS, the Go heap growth per Watcher and the CPU time per New (wall
// time depends on the machine's load; CPU time much less).
//
//	go test -run '^$' -bench WatchStartup100k -benchtime 5x ./internal/watch/
func BenchmarkWatchStartup100k(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("inotify")
	}
	root := bigTree(b)
	targets := []Target{{Service: "big", Root: root, Ignore: []string{"node_modules/", "**/*.md"}}}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var maxReady, cpu time.Duration
	var rss float64
	b.ResetTimer()
	for range b.N {
		start, cpu0 := time.Now(), cpuTime()
		w, err := New(targets, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if d := time.Since(start); d > maxReady {
			maxReady = d
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()
		rss = max(rss, procStatusKB("VmRSS"))
		var n int
		w.do(func() { n = len(w.watched) })
		if n != 5001 { // the root and 5,000 directories
			b.Fatalf("%d directories watched, want 5001", n)
		}
		runtime.ReadMemStats(&after)
		w.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(maxReady.Milliseconds()), "max-ms-to-ready")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(rss/1024, "rss-MB")
	b.ReportMetric(procStatusKB("VmHWM")/1024, "peak-rss-MB")
	b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/(1<<20), "heap-MB")
}
