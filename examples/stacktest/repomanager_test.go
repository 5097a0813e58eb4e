// Package stacktest_example shows how a company test suite, in its own module, starts a
// trimmed clocal stack: one call, torn down by t.Cleanup.
package stacktest_example

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/pkg/stacktest"
)

func TestRepoManagerRendersReadme(t *testing.T) {
	ws, _ := filepath.Abs("../..") // the workspace; a real suite sets CLOCAL_WORKSPACE
	s := stacktest.StartStack(t, "repo-manager", stacktest.WithWorkspace(ws), stacktest.WithLog(os.Stderr))

	resp, err := http.Post(s.URL("repo-manager")+"/repos/hello", "text/markdown", strings.NewReader("# Hello\n\nfrom a *test*"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /repos/hello = %s", resp.Status)
	}
	resp, err = http.Get(s.URL("repo-manager") + "/repos/hello")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var repo struct {
		HTML string `json:"html"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&repo); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(repo.HTML, "<h1>Hello</h1>") || !strings.Contains(repo.HTML, "<em>test</em>") {
		t.Fatalf("rendered README = %q: repo-manager did not go through markdown-renderer and kvstore", repo.HTML)
	}
	if len(s.Services) != 3 {
		t.Fatalf("closure = %v, want repo-manager, kvstore, markdown-renderer", s.Services)
	}
}
