package stack

import (
	"testing"

	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// fixtureWS is the workspace package's test workspace; tests only ever read it.
const fixtureWS = "../workspace/testdata/ws"

// CopyFixture copies the fixture workspace into a fresh temp dir (so that nothing the tests
// write lands in the repository), adds the given extra files (workspace-relative path →
// content) and returns the copy's root. It is in a _test.go file of package stack so that
// the external stack_test tests can use it too.
func CopyFixture(t testing.TB, extra map[string]string) string {
	t.Helper()
	dst := testutil.CopyDir(t, fixtureWS)
	return testutil.WriteFiles(t, dst, extra)
}

// LoadFixture copies the fixture workspace (see CopyFixture) and loads it.
func LoadFixture(t testing.TB, extra map[string]string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Load(CopyFixture(t, extra))
	if err != nil {
		t.Fatalf("load fixture workspace: %v", err)
	}
	return ws
}
