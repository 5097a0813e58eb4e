package testutil

import (
	"os"
	"testing"
)

// LaneEnv names the test lane. scripts/test.sh --unit sets it to "unit": the fast lane,
// which runs every pure test (no Docker daemon, registry, second host, compose CLI or
// browser) and points DOCKER_HOST at a socket that does not exist, so a test that reaches
// for the daemon without saying so fails instead of passing slowly.
const LaneEnv = "CLOCAL_TEST_LANE"

// UnitLane reports whether the tests run in the fast lane (scripts/test.sh --unit).
func UnitLane() bool { return os.Getenv(LaneEnv) == "unit" }

// SkipInUnitLane skips a test that needs part (a real one: "the Docker daemon", "a
// registry") in the fast lane, even under CI=true: the full lane (scripts/test.sh) runs
// it and fails when the part is missing there.
func SkipInUnitLane(t testing.TB, part string) {
	t.Helper()
	if UnitLane() {
		t.Skipf("unit lane (scripts/test.sh --unit): needs %s", part)
	}
}
