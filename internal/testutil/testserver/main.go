// Command testserver is a tiny static HTTP server used as the image of integration tests
// (FROM scratch, so it also provides the "shell" commands tests exec).
//
//	testserver [serve]      serve HTTP on $ADDR (default :8080): GET / answers "hello from $NAME",
//	                        GET /healthz answers 200 unless $UNHEALTHY is set
//	testserver -healthcheck GET http://127.0.0.1:8080/healthz; exit 0 when it answers 200
//	testserver echo ARGS    print ARGS on stdout
//	testserver stderr ARGS  print ARGS on stderr
//	testserver exit N       exit with code N
//	testserver oneshot      print "oneshot done" and exit 0
//	testserver env NAME     print the value of $NAME
//	testserver touch PATH   create an empty file at PATH
//
// With $READY_FILE set, GET /healthz answers 503 until that file exists (a test decides when
// the service becomes healthy with `testserver touch $READY_FILE` through exec).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch args[0] {
	case "-healthcheck", "healthcheck":
		os.Exit(healthcheck())
	case "echo":
		fmt.Println(strings.Join(args[1:], " "))
	case "stderr":
		fmt.Fprintln(os.Stderr, strings.Join(args[1:], " "))
	case "exit":
		n := 0
		if len(args) > 1 {
			n, _ = strconv.Atoi(args[1])
		}
		os.Exit(n)
	case "oneshot":
		fmt.Println("oneshot done")
	case "touch":
		for _, p := range args[1:] {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	case "env":
		if len(args) > 1 {
			fmt.Println(os.Getenv(args[1]))
		}
	case "serve":
		serve()
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", args[0])
		os.Exit(2)
	}
}

func healthcheck() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:8080/healthz")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Println(resp.Status)
		return 1
	}
	return 0
}

func serve() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	name := os.Getenv("NAME")
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if os.Getenv("UNHEALTHY") != "" {
			http.Error(w, "unhealthy on purpose", http.StatusServiceUnavailable)
			return
		}
		if f := os.Getenv("READY_FILE"); f != "" {
			if _, err := os.Stat(f); err != nil {
				http.Error(w, "not ready: no "+f, http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s\n", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	fmt.Printf("%s listening on %s\n", name, addr)
	fmt.Fprintf(os.Stderr, "%s stderr ready\n", name)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
