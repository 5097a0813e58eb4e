package cli

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clocal-dev/clocal/internal/devloop"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/ui"
)

// churnSource is a stack whose snapshot changes all the time (another service's restart
// count), as a busy stack's does, and which counts the actions it is asked for.
type churnSource struct {
	mu   sync.Mutex
	n    int
	acts int
}

func (c *churnSource) Snapshot(context.Context) (ui.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return ui.Snapshot{Project: "churn", Targets: []string{"web"}, Up: true, Services: []ui.Service{
		{Name: "db", Kind: "service", State: "running", Health: "healthy", Restarts: c.n},
		{Name: "web", Kind: "service", State: "running", Health: "healthy", Built: true, Image: "clocal/web:1"},
	}}, nil
}

func (c *churnSource) Watch(ctx context.Context, changed func(), _ func(devloop.Event)) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed()
		}
	}
}

func (c *churnSource) Logs(ctx context.Context, _ []string, _ string, _ engine.LogSink) error {
	<-ctx.Done()
	return nil
}

func (c *churnSource) Act(context.Context, string, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acts++
	return nil
}

func (c *churnSource) Record(devloop.Event) {}

func (c *churnSource) actions() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acts
}

// TestUIClicksSurviveUpdates: while the services table gets a new snapshot every few
// milliseconds (another service changes), every click on a service's restart button is an
// action: an update about something else does not replace the button between the press
// and the release of the mouse (which loses the click).
func TestUIClicksSurviveUpdates(t *testing.T) {
	chromium := requireChromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &churnSource{}
	ln, err := ui.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	token := ui.NewToken()
	srv := ui.New(src, ui.Options{Token: token, Debounce: time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	bctx := browser(t, chromium)
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+ln.Addr().String()+"/?token="+token)); err != nil {
		t.Fatal(err)
	}
	const clicks = 25
	for i := 1; i <= clicks; i++ {
		// The button is enabled again once the previous action is over.
		poll(t, bctx, "restart enabled", `(() => { const b = document.querySelector('#services tr[data-service="web"] button[data-action="restart"]'); return !!b && !b.disabled; })()`, 30*time.Second)
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#services tr[data-service="web"] button[data-action="restart"]`))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("click %d to be an action", i), func() bool {
			return src.actions() >= i
		})
	}
	if got := src.actions(); got != clicks {
		t.Fatalf("%d clicks made %d actions", clicks, got)
	}
}
