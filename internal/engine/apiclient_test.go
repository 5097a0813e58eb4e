package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
// connect at the same time; building the client options must be race-free (go test -race).
func TestClientOptionsConcurrent(t *testing.T) {
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = clientOptions("", "")
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}
