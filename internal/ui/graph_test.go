package ui

import (
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/workspace"
)

func TestRenderGraphLayoutAndReasons(t *testing.T) {
	g := &workspace.Graph{
		Nodes: []workspace.GraphNode{{Name: "kvstore"}, {Name: "markdown-renderer"}, {Name: "repo-manager", Requested: true}, {Name: "hook<&>"}},
		Edges: []workspace.Edge{
			{From: "hook<&>", To: "repo-manager", Kind: workspace.Declared, Source: "services/hook/service.yaml:4"},
			{From: "repo-manager", To: "kvstore", Kind: workspace.Declared, Source: "services/repo-manager/service.yaml:5"},
			{From: "repo-manager", To: "markdown-renderer", Kind: workspace.Inferred, Source: "repo-manager.job:12:3 env markdown_addr", Addr: "md-1:9300", Job: "markdown-renderer-1"},
			{From: "kvstore", To: "hook<&>", Kind: workspace.Inferred, Source: "kv.job:3:3 (env db_url=postgres://u:hunter2@db:5432/x)", Cyclic: true},
		},
	}
	svg := RenderGraph(g)
	// Well-formed XML (names are escaped).
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	x := map[string]float64{}
	for _, m := range regexp.MustCompile(`data-service="([^"]+)" transform="translate\(([\d.]+),`).FindAllStringSubmatch(svg, -1) {
		x[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if len(x) != 4 {
		t.Fatalf("nodes: %v\n%s", x, svg)
	}
	// Dependents left of what they depend on; the cyclic edge gives no order.
	if !(x["hook&lt;&amp;&gt;"] < x["repo-manager"] && x["repo-manager"] < x["kvstore"] && x["kvstore"] == x["markdown-renderer"]) {
		t.Fatalf("columns: %v", x)
	}
	for _, want := range []string{
		"<title>repo-manager → markdown-renderer: inferred — md-1:9300 = job markdown-renderer-1 (repo-manager.job:12:3 env markdown_addr)</title>",
		`class="edge inferred cyclic"`, `class="node requested" data-service="repo-manager"`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %q in\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "hunter2") {
		t.Fatal("a secret in an edge's reason is shown")
	}
	if graphKey(g) == graphKey(&workspace.Graph{Nodes: g.Nodes}) {
		t.Fatal("graph key ignores edges")
	}
}
