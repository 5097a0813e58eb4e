package build_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/clocal-dev/clocal/internal/build"
)

func TestBaseImages(t *testing.T) {
	tests := []struct {
		name, dockerfile string
		want             []string
		wantErr          string
	}{
		{"scratch", "FROM scratch\nCOPY a /a\n", nil, ""},
		{"scratch any case", "from SCRATCH\n", nil, ""},
		{"simple", "FROM java:8-jdk\nRUN x\n", []string{"java:8-jdk"}, ""},
		{"stage alias", "FROM golang:1.22 AS build\nRUN go build\nFROM build AS test\nFROM scratch\nCOPY --from=build /x /x\n", []string{"golang:1.22"}, ""},
		{"alias any case", "FROM img:1 as Builder\nFROM builder\n", []string{"img:1"}, ""},
		{"platform flag", "FROM --platform=linux/amd64 clocal/busybox:local AS b\n", []string{"clocal/busybox:local"}, ""},
		{"copy from image", "FROM scratch\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n", []string{"nginx:1.25"}, ""},
		{"copy from index", "FROM a:1\nFROM scratch\nCOPY --from=0 /x /x\n", []string{"a:1"}, ""},
		{"copy from with chown", "FROM scratch\nCOPY --chown=1:1 --from=b:2 /x /x\n", []string{"b:2"}, ""},
		{"dedup", "FROM a:1\nFROM a:1\n", []string{"a:1"}, ""},
		{"comments continuation and directives", "# escape=`\n# comment\nFROM `\n  c:3 `\n  AS x\nRUN echo \\\n", []string{"c:3"}, ""},
		{"continuation backslash", "FROM \\\n# inner comment\n d:4\n", []string{"d:4"}, ""},
		{"global arg default", "ARG BASE=e:5\nARG TAG\nFROM ${BASE}\nFROM f:${TAG:-6}\nARG LATE=x\n", []string{"e:5", "f:6"}, ""},
		{"arg without default", "ARG BASE\nFROM $BASE\n", nil, "has no default"},
		{"no from", "RUN echo\n", nil, "no FROM"},
		{"crlf", "FROM g:7\r\nRUN x\r\n", []string{"g:7"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := build.ParseBaseImages([]byte(tt.dockerfile))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
