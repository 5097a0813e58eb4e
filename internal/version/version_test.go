package version

import (
	"os"
	"regexp"
	"testing"
)

// TestFallbacksMatchGoMod: the versions reported by binaries without module information
// are the ones go.mod pins.
func TestFallbacksMatchGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{ComposeModule: composeFallback, ComposeGoModule: composeGoFallback} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + `\s+v(\S+)`).FindSubmatch(data)
		if m == nil || string(m[1]) != want {
			t.Errorf("go.mod pins %s %q, fallback says %q", mod, m, want)
		}
	}
	if v := Get(); v.Compose != composeFallback || v.ComposeGo != composeGoFallback || v.Clocal == "" {
		t.Errorf("Get() = %+v", v)
	}
}
