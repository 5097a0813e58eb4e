// Package svc holds the few helpers every example app shares: env lookup, JSON replies, the
// GET / and GET /healthz endpoints, the -healthcheck mode (scratch images have no curl) and a
// small HTTP client for the other services, kvstore included.
package svc

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Env returns the value of the env key, or def when it is unset or empty.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Dep is a service this app needs; /healthz is ok only when every Dep answers its own /healthz.
type Dep struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port, as production writes it
}

// Component is what an app provides: its routes. It may also implement
// Deps() []Dep and Info() map[string]any (extra fields for GET /).
type Component interface {
	Register(mux *http.ServeMux)
}

// Handler serves the component's routes plus GET / and GET /healthz.
func Handler(name, marker string, c Component) http.Handler {
	mux := http.NewServeMux()
	c.Register(mux)
	deps := []Dep{}
	if d, ok := c.(interface{ Deps() []Dep }); ok {
		deps = d.Deps()
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		out := map[string]any{"service": name, "marker": marker, "host": host, "deps": deps}
		if i, ok := c.(interface{ Info() map[string]any }); ok {
			for k, v := range i.Info() {
				out[k] = v
			}
		}
		WriteJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := c.(interface{ Healthy() error }); ok {
			if err := h.Healthy(); err != nil {
				WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": err.Error()})
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), 1500*time.Millisecond)
		defer cancel()
		for _, d := range deps {
			if err := Get(ctx, d.Addr, "/healthz", nil); err != nil {
				WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": d.Name + ": " + err.Error()})
				return
			}
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// Main runs an app: `-healthcheck` probes http://127.0.0.1:$port/healthz and exits 0 or 1;
// otherwise it builds the component and serves until SIGTERM/SIGINT.
func Main(name, marker, defaultPort string, build func() (Component, error)) {
	check := flag.Bool("healthcheck", false, "probe /healthz of the running server and exit 0 (healthy) or 1")
	flag.Parse()
	port := Env("port", defaultPort)
	if *check || flag.Arg(0) == "healthcheck" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := Get(ctx, net.JoinHostPort("127.0.0.1", port), "/healthz", nil); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	log.SetPrefix(name + " ")
	c, err := build()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: ":" + port, Handler: logRequests(Handler(name, marker, c)), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("%s listening on :%s", marker, port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Print("stopped")
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			log.Printf("%s %s", r.Method, r.URL.Path)
		}
		h.ServeHTTP(w, r)
	})
}

// WriteJSON replies with v as JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // rendered HTML stays readable with curl
	_ = enc.Encode(v)
}

// Error replies {"error": msg}.
func Error(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}
