package enginetest

import (
	"context"
	"errors"
	"testing"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
)

func TestFake(t *testing.T) {
	ctx := context.Background()
	p, err := convert.Load(ctx, []byte(`
services:
  db: {image: db:1}
  web: {image: web:1, depends_on: [db]}
  other: {image: other:1}
`), "fake", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{}
	if err := f.Up(ctx, p, engine.UpOptions{Services: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	cs, _ := f.Ps(ctx, "fake", engine.PsOptions{})
	if len(cs) != 2 || cs[0].Service != "db" || cs[1].Service != "web" {
		t.Fatalf("Ps after Up(web): %+v", cs)
	}
	webID := cs[1].ID
	if err := f.Replace(ctx, p, "web", engine.ReplaceOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, _ = f.Ps(ctx, "fake", engine.PsOptions{Services: []string{"web"}})
	if len(cs) != 1 || cs[0].ID == webID {
		t.Errorf("Replace did not change the ID: %+v", cs)
	}
	_ = f.Stop(ctx, "fake", []string{"db"}, engine.StopOptions{})
	if cs, _ := f.Ps(ctx, "fake", engine.PsOptions{}); len(cs) != 1 {
		t.Errorf("stopped container listed without All: %+v", cs)
	}
	boom := errors.New("boom")
	f.FailNext("Up", boom)
	if err := f.Up(ctx, p, engine.UpOptions{}); !errors.Is(err, boom) {
		t.Errorf("programmed error: %v", err)
	}
	if err := f.Up(ctx, p, engine.UpOptions{}); err != nil {
		t.Errorf("error not consumed: %v", err)
	}
	if n := len(f.CallsTo("Up")); n != 3 {
		t.Errorf("Up calls: %d", n)
	}
	_ = f.Down(ctx, "fake", engine.DownOptions{})
	if ps, _ := f.Projects(ctx); len(ps) != 0 {
		t.Errorf("projects after Down: %+v", ps)
	}
}
