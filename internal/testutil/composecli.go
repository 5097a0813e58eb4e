package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// ComposeCLI returns the Docker Compose CLI that tests compare clocal with or act on a
// stack with: $CLOCAL_COMPOSE_CLI (scripts/test.sh builds v2.40.3 from the module proxy),
// else docker-compose on PATH. Without one it fails the test under CI=true and otherwise
// returns "" (the caller skips that check, saying so); in the unit lane it returns "".
func ComposeCLI(t testing.TB) string {
	t.Helper()
	if UnitLane() {
		return "" // the fast lane runs no external program of that weight
	}
	if bin := os.Getenv("CLOCAL_COMPOSE_CLI"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("docker-compose")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Docker Compose CLI: set CLOCAL_COMPOSE_CLI (scripts/test.sh builds it with scripts/bench/compose-cli.sh)")
	}
	return ""
}
