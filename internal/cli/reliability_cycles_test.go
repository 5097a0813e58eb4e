package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/testutil"
)

var anonVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

func kvDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestUpDownCycles: N up/down cycles of the repo-manager profile (5; 30 with CLOCAL_SOAK=1).
// Each down leaves no container, network or anonymous volume of the project; no cycle builds
// or adds an image; the named data volume keeps what was written through kvstore in the
// previous cycle.
func TestUpDownCycles(t *testing.T) {
	docker := testutil.RequireDocker(t)
	cycles := 5
	if soak() {
		cycles = 30
	}
	root := repoRoot(t)
	project := testProject(t)
	cleanupStack(t, docker, root, project)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cycles)*3*time.Minute+10*time.Minute)
	defer cancel()
	var firstImages string
	var anon []string
	start := time.Now()
	for i := 0; i < cycles; i++ {
		cycleStart := time.Now()
		r := runCLI(t, ctx, "-w", root, "-p", project, "up", "repo-manager", "--ephemeral-ports", "--json", "--timeout", "3m")
		if r.Code != 0 {
			t.Fatalf("cycle %d: up: exit %d\n%s\nstates: %v", i, r.Code, r.Err, containerStates(t, docker, project))
		}
		var up upJSON
		if err := json.Unmarshal([]byte(r.Out), &up); err != nil {
			t.Fatalf("cycle %d: up --json: %v\n%s", i, err, r.Out)
		}
		var imgs []string
		for name, s := range up.Services {
			imgs = append(imgs, name+"="+s.Image)
			if i > 0 && s.Built {
				t.Errorf("cycle %d rebuilt %s", i, name)
			}
		}
		sort.Strings(imgs)
		if i == 0 {
			firstImages = strings.Join(imgs, " ")
		} else if got := strings.Join(imgs, " "); got != firstImages {
			t.Errorf("cycle %d images %s, first cycle %s", i, got, firstImages)
		}
		kv := up.Services["kvstore"].URL
		if i > 0 {
			code, body := kvDo(t, "GET", fmt.Sprintf("%s/kv/cycle-%d", kv, i-1), "")
			if code != 200 || !strings.Contains(body, fmt.Sprintf("value-%d", i-1)) {
				t.Errorf("cycle %d: the value written in cycle %d is gone: %d %q", i, i-1, code, body)
			}
		}
		if code, body := kvDo(t, "PUT", fmt.Sprintf("%s/kv/cycle-%d", kv, i), fmt.Sprintf("value-%d", i)); code/100 != 2 {
			t.Fatalf("cycle %d: PUT: %d %s", i, code, body)
		}
		for _, c := range projectContainers(t, docker, project) {
			for _, m := range c.Mounts {
				if m.Type == "volume" && anonVolume.MatchString(m.Name) {
					anon = append(anon, m.Name)
				}
			}
		}
		mustRun(t, ctx, "-w", root, "-p", project, "down", "-t", "2s")
		ctrs, nets, vols := leftovers(t, docker, project)
		if len(ctrs)+len(nets) > 0 {
			t.Fatalf("cycle %d: down left containers %v networks %v", i, ctrs, nets)
		}
		if len(vols) == 0 {
			t.Fatalf("cycle %d: down removed the named data volume", i)
		}
		t.Logf("cycle %d: up+check+down in %s", i, time.Since(cycleStart).Round(100*time.Millisecond))
	}
	for _, v := range anon {
		if _, err := docker.VolumeInspect(ctx, v); err == nil {
			t.Errorf("anonymous volume %s survived down", v)
		}
	}
	_, _, vols := leftovers(t, docker, project)
	vl, _ := docker.VolumeList(ctx, volume.ListOptions{})
	t.Logf("%d cycles in %s: 0 containers, 0 networks left; named volumes kept %v; %d anonymous volumes seen (all removed); images %s; %d volumes on the daemon",
		cycles, time.Since(start).Round(time.Second), vols, len(anon), firstImages, len(vl.Volumes))
	r := mustRun(t, ctx, "-w", root, "gc", "--dry-run", "--service", "kvstore", "--service", "markdown-renderer", "--service", "repo-manager")
	t.Logf("gc --dry-run:\n%s%s", r.Out, r.Err)
}
