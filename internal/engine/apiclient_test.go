package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/docker/cli/cli/flags"
)

// TestClientOptionsReadTLSEnv: like the docker CLI, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
// turn on verified TLS with the certificates of that folder. The docker CLI reads them when
// its package initialises, so the check runs in a child test process with that environment.
func TestClientOptionsReadTLSEnv(t *testing.T) {
	if dir := os.Getenv("CLOCAL_TLS_CHILD"); dir != "" {
		opts := clientOptions("tcp://127.0.0.1:2376", "")
		if !opts.TLS || !opts.TLSVerify || opts.TLSOptions == nil || opts.TLSOptions.InsecureSkipVerify {
			t.Fatalf("TLS not on: tls=%v verify=%v options=%+v", opts.TLS, opts.TLSVerify, opts.TLSOptions)
		}
		if want := filepath.Join(dir, "ca.pem"); opts.TLSOptions.CAFile != want {
			t.Fatalf("CA file %q, want %q", opts.TLSOptions.CAFile, want)
		}
		// The CA file does not exist: the client refuses to start instead of going plain.
		if _, err := NewAPIClient(context.Background(), "tcp://127.0.0.1:2376", ""); err == nil || !strings.Contains(err.Error(), "ca.pem") {
			t.Fatalf("NewAPIClient with a missing CA: %v", err)
		}
		return
	}
	if opts := clientOptions("", ""); os.Getenv("DOCKER_TLS_VERIFY") == "" && os.Getenv("DOCKER_TLS") == "" && opts.TLS {
		t.Errorf("TLS on without DOCKER_TLS_VERIFY")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestClientOptionsReadTLSEnv$", "-test.v")
	cmd.Env = append(os.Environ(), "CLOCAL_TLS_CHILD="+dir, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+dir, "DOCKER_CONTEXT=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestClientOptionsConcurrent: parallel stacks (stacktest, --isolated in one process)
// connect at the same time. Building the client options writes a package variable of the
// docker CLI (the default cert path) on the process's first call, so it is serialised. The
// check runs in a child process, where the concurrent calls are the first ones: every one
// returns exactly what a lone call returns, and under -race an unserialised write fails the
// child (shown once by removing installFlagsMu).
func TestClientOptionsConcurrent(t *testing.T) {
	if os.Getenv("CLOCAL_CONCURRENT_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClientOptionsConcurrent$", "-test.v")
		cmd.Env = append(os.Environ(), "CLOCAL_CONCURRENT_CHILD=1", "DOCKER_CERT_PATH=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("concurrent first calls: %v\n%s", err, out)
		}
		return
	}
	const n = 16
	got := make([]*flags.ClientOptions, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i] = clientOptions("tcp://10.0.0.1:2376", "")
		}()
	}
	close(start)
	wg.Wait()
	want := clientOptions("tcp://10.0.0.1:2376", "")
	for i, o := range got {
		if !reflect.DeepEqual(o, want) {
			t.Errorf("concurrent call %d: %+v (TLS %+v), want %+v (TLS %+v)", i, o, o.TLSOptions, want, want.TLSOptions)
		}
	}
	if len(want.Hosts) != 1 || want.Hosts[0] != "tcp://10.0.0.1:2376" || want.LogLevel != "info" {
		t.Errorf("options %+v: host or defaults missing", want)
	}
}
