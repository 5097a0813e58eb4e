package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// Pin is an image a service was switched to with `clocal update`: up, watch and restart
// keep running it (no build) until `clocal update SERVICE --latest`.
type Pin struct {
	Image string    `json:"image"`
	Since time.Time `json:"since"`
}

// PinsFile is where the pins of a project live: .clocal/pins/<project>.json. It is not in
// the project's state folder, which `down` removes: a pin outlives a down.
func PinsFile(ws *workspace.Workspace, project string) string {
	return filepath.Join(ws.Root, StateDir, "pins", project+".json")
}

// LoadPins reads the pins of a project (none when there is no file; a broken file is an
// error naming it).
func LoadPins(ws *workspace.Workspace, project string) (map[string]Pin, error) {
	path := PinsFile(ws, project)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]Pin{}, nil
	}
	if err != nil {
		return nil, err
	}
	pins := map[string]Pin{}
	if err := json.Unmarshal(data, &pins); err != nil {
		return nil, fmt.Errorf("%s: %w (remove it to forget every pin)", path, err)
	}
	return pins, nil
}

// PinnedImages returns every image a stack of the workspace is pinned to (gc keeps them).
func PinnedImages(ws *workspace.Workspace) map[string]bool {
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(ws.Root, StateDir, "pins", "*.json"))
	for _, f := range files {
		pins, err := LoadPins(ws, strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			continue
		}
		for _, p := range pins {
			out[p.Image] = true
		}
	}
	return out
}

// Pins returns the stack's pins.
func (s *Stack) Pins() (map[string]Pin, error) { return LoadPins(s.WS, s.Name) }

// SetPin pins service to image; an empty image unpins it.
func (s *Stack) SetPin(service, image string) error {
	pins, err := s.Pins()
	if err != nil {
		return err
	}
	if image == "" {
		if _, ok := pins[service]; !ok {
			return nil
		}
		delete(pins, service)
	} else {
		pins[service] = Pin{Image: image, Since: time.Now().UTC().Truncate(time.Second)}
	}
	path := PinsFile(s.WS, s.Name)
	if len(pins) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(pins, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pinned returns the pins of the selected services.
func (s *Stack) pinned(sel *workspace.Selection) (map[string]Pin, error) {
	all, err := s.Pins()
	if err != nil {
		return nil, err
	}
	out := map[string]Pin{}
	for _, name := range sel.Services {
		if p, ok := all[name]; ok {
			out[name] = p
		}
	}
	return out, nil
}

// reportPins prints one line per pinned service, so nobody wonders why an edit is not built.
func (s *Stack) reportPins(pins map[string]Pin) {
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(s.Out, "%s: pinned to %s by clocal update (clocal update %s --latest runs your sources again)\n", n, pins[n].Image, n)
	}
}
