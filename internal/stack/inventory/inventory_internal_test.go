package inventory

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/clocal-dev/clocal/internal/labels"
)

func TestIsClocal(t *testing.T) {
	clocalCtr := container.Summary{Labels: map[string]string{labels.Service: "kvstore"}}
	otherCtr := container.Summary{Labels: map[string]string{labels.ComposeService: "db"}}
	clocalNet := network.Summary{Labels: map[string]string{labels.ComposeNetwork: "clocal"}}
	otherNet := network.Summary{Labels: map[string]string{labels.ComposeNetwork: "default"}}
	clocalVol := &volume.Volume{Labels: map[string]string{labels.HostPath: "/data"}}
	cases := []struct {
		name string
		ctrs []container.Summary
		nets []network.Summary
		vols []*volume.Volume
		want bool
	}{
		{"clocal containers", []container.Summary{clocalCtr}, nil, nil, true},
		{"foreign containers, even with a network named clocal", []container.Summary{otherCtr}, []network.Summary{clocalNet}, nil, false},
		{"only clocal's network", nil, []network.Summary{clocalNet}, nil, true},
		{"only a foreign network", nil, []network.Summary{otherNet}, nil, false},
		{"only a clocal data volume", nil, nil, []*volume.Volume{clocalVol}, true},
	}
	for _, c := range cases {
		if got := IsClocal(Stack{Containers: c.ctrs, Networks: c.nets, Volumes: c.vols}); got != c.want {
			t.Errorf("%s: IsClocal = %v, want %v", c.name, got, c.want)
		}
	}
}
