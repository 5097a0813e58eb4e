package watch

import (
	"reflect"
	"testing"
	"time"
)

func TestChangeSetMerge(t *testing.T) {
	a := ChangeSet{Service: "s", Paths: []string{"/a", "/c"}, At: t0}
	b := ChangeSet{Service: "s", Paths: []string{"/b", "/c"}, At: t0.Add(time.Second)}
	want := ChangeSet{Service: "s", Paths: []string{"/a", "/b", "/c"}, At: t0.Add(time.Second)}
	if got := a.Merge(b); !reflect.DeepEqual(got, want) {
		t.Errorf("a.Merge(b) = %+v", got)
	}
	if got := b.Merge(a); !reflect.DeepEqual(got, want) {
		t.Errorf("b.Merge(a) = %+v", got)
	}
	if !reflect.DeepEqual(a.Paths, []string{"/a", "/c"}) {
		t.Error("Merge modified its receiver")
	}
}

func TestCoalescer(t *testing.T) {
	var c Coalescer
	cs := func(svc string, paths ...string) ChangeSet { return ChangeSet{Service: svc, Paths: paths, At: t0} }

	got, start := c.Offer(cs("a", "/1"))
	if !start || !reflect.DeepEqual(got.Paths, []string{"/1"}) || !c.Busy("a") {
		t.Fatalf("idle service must start: %v %+v", start, got)
	}
	if _, start := c.Offer(cs("b", "/x")); !start {
		t.Fatal("services are independent")
	}
	// While a builds: three saves queue one build.
	for _, p := range []string{"/2", "/3", "/2"} {
		if _, start := c.Offer(cs("a", p)); start {
			t.Fatal("started while busy")
		}
	}
	if !c.Queued("a") {
		t.Fatal("not queued")
	}
	next, again := c.Done("a")
	if !again || !reflect.DeepEqual(next.Paths, []string{"/2", "/3"}) {
		t.Fatalf("Done: %v %+v, want one more run with /2 /3", again, next)
	}
	if !c.Busy("a") {
		t.Fatal("must stay busy for the queued run")
	}
	if _, again := c.Done("a"); again || c.Busy("a") {
		t.Fatal("nothing queued: must become idle")
	}
	// Forget drops what is queued.
	c.Offer(cs("b", "/y"))
	c.Forget("b")
	if _, again := c.Done("b"); again || c.Busy("b") {
		t.Fatal("forgotten changes ran")
	}
}
