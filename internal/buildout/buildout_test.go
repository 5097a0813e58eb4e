package buildout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsOutput(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"java/build.gradle", "mvn/pom.xml", "rs/Cargo.toml", "sbt/build.sbt", "web/package.json", "net/app.csproj", "py/x.py"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dir, want := range map[string]bool{
		"java/build": true, "java/.gradle": true, "java/target": false,
		"mvn/target": true, "mvn/build": false,
		"rs/target": true, "sbt/target": true, "sbt/project/target": true,
		"web/node_modules": true, "web/.next": true, "net/bin": true, "net/obj": true,
		"py/__pycache__": true, "anywhere/__pycache__": true,
		"go/build": false, "go/bin": false, "src": false, "node_modules": false,
	} {
		if got := IsOutput(filepath.Join(root, dir)); got != want {
			t.Errorf("IsOutput(%s) = %v, want %v", dir, got, want)
		}
		if want && !Candidate(filepath.Base(dir)) {
			t.Errorf("Candidate(%s) = false for an output", filepath.Base(dir))
		}
	}
	if len(Describe()) != len(Rules) {
		t.Error("Describe does not list every rule")
	}
}
