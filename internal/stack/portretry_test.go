package stack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/clocal-dev/clocal/internal/convert"
	"github.com/clocal-dev/clocal/internal/engine"
	"github.com/clocal-dev/clocal/internal/engine/enginetest"
	"github.com/clocal-dev/clocal/internal/stack"
	"github.com/clocal-dev/clocal/internal/testutil"
	"github.com/clocal-dev/clocal/internal/workspace"
)

// publishedPorts lists the fixed host ports a project publishes.
func publishedPorts(p *types.Project) []int {
	var out []int
	for _, ports := range stack.ProjectHostPorts(p) {
		for _, h := range ports {
			out = append(out, h)
		}
	}
	return out
}

// allocated is the daemon's error for a host port another container took (Docker 20.10).
func allocated(port int) error {
	return fmt.Errorf("up p: start kvstore: Error response from daemon: driver failed programming external connectivity on endpoint p-kvstore-1 (15f6bb4c8407): Bind for 127.0.0.1:%d failed: port is already allocated", port)
}

// TestUpRetriesPickedPortOnly: an up failing because a port clocal picked was taken before
// the daemon bound it is retried on another port (one notice line, no error), at most
// stack.PortRetries ups in all; a production port the user asked for is never moved.
func TestUpRetriesPickedPortOnly(t *testing.T) {
	ctx := context.Background()
	seq := func() func() (int, error) {
		next := 40000
		return func() (int, error) { next++; return next, nil }
	}
	t.Run("picked port retried", func(t *testing.T) {
		f := &enginetest.Fake{}
		var out bytes.Buffer
		s := stack.New(stack.LoadFixture(t, nil), "retry-picked", f, nil, &out)
		s.Convert = convert.Options{EphemeralPorts: true, FreePort: seq()}
		f.FailNext("Up", allocated(40001))
		res, err := s.Up(ctx, []string{"kv-1"}, stack.UpOptions{Wait: true})
		if err != nil {
			t.Fatalf("up failed: %v", err)
		}
		if ups := f.CallsTo("Up"); len(ups) != 2 {
			t.Fatalf("%d engine ups, want 2", len(ups))
		}
		if got := publishedPorts(res.Project); len(got) != 1 || got[0] != 40002 {
			t.Errorf("published ports %v, want [40002]", got)
		}
		if n := strings.Count(out.String(), "port 40001 was taken"); n != 1 || strings.Contains(out.String(), "already allocated") {
			t.Errorf("output %q: want one notice line and no daemon error", out.String())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		f := &enginetest.Fake{}
		s := stack.New(stack.LoadFixture(t, nil), "retry-bounded", f, nil, io.Discard)
		s.Convert = convert.Options{EphemeralPorts: true, FreePort: seq()}
		for i := 1; i <= stack.PortRetries+1; i++ {
			f.FailNext("Up", allocated(40000+i))
		}
		_, err := s.Up(ctx, []string{"kv-1"}, stack.UpOptions{Wait: true})
		if p, ok := engine.PortConflict(err); !ok || p != 40000+stack.PortRetries {
			t.Errorf("error %v, want the last conflict (port %d)", err, 40000+stack.PortRetries)
		}
		if ups := f.CallsTo("Up"); len(ups) != stack.PortRetries {
			t.Errorf("%d engine ups, want %d", len(ups), stack.PortRetries)
		}
	})
	t.Run("production port not moved", func(t *testing.T) {
		f := &enginetest.Fake{}
		s := stack.New(stack.LoadFixture(t, nil), "retry-prod", f, nil, io.Discard)
		s.Convert = convert.Options{PortTaken: func(int) bool { return false }, FreePort: seq()}
		p, _, err := s.Preview(ctx, mustResolve(t, s.WS, "kv-1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		prod := publishedPorts(p)
		if len(prod) != 1 || prod[0] > 40000 {
			t.Fatalf("published ports %v, want the production port", prod)
		}
		f.FailNext("Up", allocated(prod[0]))
		_, err = s.Up(ctx, []string{"kv-1"}, stack.UpOptions{Wait: true})
		if port, ok := engine.PortConflict(err); !ok || port != prod[0] {
			t.Errorf("error %v, want the conflict on the production port %d", err, prod[0])
		}
		if ups := f.CallsTo("Up"); len(ups) != 1 {
			t.Errorf("%d engine ups, want 1 (a production port is not moved)", len(ups))
		}
	})
	t.Run("other errors not retried", func(t *testing.T) {
		f := &enginetest.Fake{}
		s := stack.New(stack.LoadFixture(t, nil), "retry-other", f, nil, io.Discard)
		s.Convert = convert.Options{EphemeralPorts: true, FreePort: seq()}
		f.FailNext("Up", errors.New("up p: start kvstore: listen tcp4 127.0.0.1:40001: bind: permission denied"))
		if _, err := s.Up(ctx, []string{"kv-1"}, stack.UpOptions{Wait: true}); err == nil {
			t.Error("up succeeded")
		}
		if ups := f.CallsTo("Up"); len(ups) != 1 {
			t.Errorf("%d engine ups, want 1", len(ups))
		}
	})
}

func mustResolve(t *testing.T, ws *workspace.Workspace, targets ...string) *workspace.Selection {
	t.Helper()
	sel, err := ws.Resolve(targets)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

// TestUpPickedPortTakenMeanwhile, on the real daemon: the first port clocal picks for an
// isolated stack is taken by another process (a listener this test holds) before Docker
// binds it — the window between picking and docker-proxy's bind that parallel test stacks
// hit. The up succeeds on another port, healthy and answering there, with one notice line.
func TestUpPickedPortTakenMeanwhile(t *testing.T) {
	testutil.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port

	ws, err := workspace.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	name := stack.UniqueName(ws.ProjectName(), "pr", 4)
	var out, log bytes.Buffer
	st, err := stack.Open(ctx, stack.Config{
		Workspace: ws, Name: name, Out: &out, EphemeralPorts: true, Owner: true,
		DialOptions: engine.Options{Out: &log, Err: &log, ProgressMode: "quiet"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		timeout := 5 * time.Second
		if err := st.Engine.Down(ctx, name, engine.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: &timeout}); err != nil {
			t.Errorf("down %s: %v", name, err)
		}
		st.RemoveState()
		_ = st.Engine.Close()
		_ = st.Docker.Close()
	})
	var picks []int
	st.Convert.FreePort = func() (int, error) {
		if len(picks) == 0 {
			picks = append(picks, taken) // free a moment ago; someone took it since
			return taken, nil
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		picks = append(picks, l.Addr().(*net.TCPAddr).Port)
		return picks[len(picks)-1], nil
	}
	res, err := st.Up(ctx, []string{"kvstore"}, stack.UpOptions{Wait: true, WaitTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatalf("up failed: %v\nout:\n%s\nengine:\n%s", err, &out, &log)
	}
	got := publishedPorts(res.Project)
	if len(picks) < 2 || len(got) != 1 || got[0] != picks[len(picks)-1] || got[0] == taken {
		t.Fatalf("published %v after picks %v (held %d): want the last pick", got, picks, taken)
	}
	ctrs, err := st.Engine.Ps(ctx, name, engine.PsOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ctrs) != 1 || ctrs[0].State != "running" || len(ctrs[0].Publishers) == 0 || ctrs[0].Publishers[0].PublishedPort != got[0] {
		t.Fatalf("containers %+v: want kvstore running on %d", ctrs, got[0])
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(got[0]) + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET kvstore: %s", resp.Status)
	}
	notice := "port " + strconv.Itoa(taken) + " was taken"
	if strings.Count(out.String(), notice) != 1 || strings.Contains(out.String(), "address already in use") {
		t.Errorf("output:\n%s\nwant one notice line %q and no daemon error", &out, notice)
	}
}
