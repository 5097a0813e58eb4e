// Command server is the app of every job of a generated fleet in integration tests (a
// static binary in a FROM-scratch image):
//
//	server               serve HTTP on $PORT (or $port): every path answers 200 "ok $HOSTNAME"
//	server -healthcheck  GET its own port, then every dependency address of its env exactly as
//	                     production wrote it: values of keys ending in _addr, _url or _ENDPOINT
//	                     (host:port, scheme://host:port/path), and <x>_host with <x>_port;
//	                     exit 0 when all answer 200, else print which did not and exit 1
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return os.Getenv("port")
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-healthcheck" {
		os.Exit(healthcheck())
	}
	name, _ := os.Hostname()
	err := http.ListenAndServe(":"+port(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %s\n", name)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// targets are the URLs the health check calls: its own, then each dependency address.
func targets() []string {
	out := []string{"http://127.0.0.1:" + port() + "/"}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[strings.ToLower(k)] = v
	}
	for k, v := range env {
		switch {
		case strings.HasSuffix(k, "_addr") || strings.HasSuffix(k, "_endpoint"):
			if _, rest, ok := strings.Cut(v, "://"); ok {
				v = rest
			}
			out = append(out, "http://"+v+"/")
		case strings.HasSuffix(k, "_url"):
			out = append(out, v)
		case strings.HasSuffix(k, "_host"):
			if p, ok := env[strings.TrimSuffix(k, "_host")+"_port"]; ok {
				out = append(out, "http://"+v+":"+p+"/")
			}
		}
	}
	return out
}

func healthcheck() int {
	c := http.Client{Timeout: 3 * time.Second}
	bad := 0
	for _, u := range targets() {
		resp, err := c.Get(u)
		if err != nil {
			fmt.Println(err)
			bad++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Println(u, resp.Status)
			bad++
		}
	}
	if bad > 0 {
		return 1
	}
	return 0
}
