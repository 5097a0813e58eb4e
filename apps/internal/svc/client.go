package svc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned for a 404 reply.
var ErrNotFound = errors.New("not found")

var client = &http.Client{Timeout: 5 * time.Second}

// Do sends a request to http://addr/path and returns the reply body; a non-2xx status is an
// error (ErrNotFound for 404).
func Do(ctx context.Context, method, addr, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, addr+path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s %s: %w", method, addr+path, ErrNotFound)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("%s %s: %s: %s", method, addr+path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// Get fetches http://addr/path and decodes the JSON reply into out (when non-nil).
func Get(ctx context.Context, addr, path string, out any) error {
	data, err := Do(ctx, http.MethodGet, addr, path, "", nil)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// Post sends in as JSON to http://addr/path and decodes the JSON reply into out (when non-nil).
func Post(ctx context.Context, addr, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	data, err := Do(ctx, http.MethodPost, addr, path, "application/json", body)
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// KV is a client of the kvstore service.
type KV struct{ Addr string }

func kvPath(key string) string { return "/kv/" + url.PathEscape(key) }

// Get returns the value of key (ErrNotFound when it is missing).
func (k KV) Get(ctx context.Context, key string) ([]byte, error) {
	return Do(ctx, http.MethodGet, k.Addr, kvPath(key), "", nil)
}

// Put stores value under key.
func (k KV) Put(ctx context.Context, key string, value []byte) error {
	_, err := Do(ctx, http.MethodPut, k.Addr, kvPath(key), "application/octet-stream", value)
	return err
}

// Delete removes key.
func (k KV) Delete(ctx context.Context, key string) error {
	_, err := Do(ctx, http.MethodDelete, k.Addr, kvPath(key), "", nil)
	return err
}

// GetJSON decodes the JSON value of key into out.
func (k KV) GetJSON(ctx context.Context, key string, out any) error {
	data, err := k.Get(ctx, key)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// PutJSON stores v as JSON under key.
func (k KV) PutJSON(ctx context.Context, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return k.Put(ctx, key, data)
}

// List returns the keys starting with prefix, sorted.
func (k KV) List(ctx context.Context, prefix string) ([]string, error) {
	var out struct {
		Keys []string `json:"keys"`
	}
	err := Get(ctx, k.Addr, "/kv/?prefix="+url.QueryEscape(prefix), &out)
	return out.Keys, err
}

var idSeq atomic.Uint64

// NewID returns a time-ordered unique id for queued messages ("20240102T150405.123456789-7").
func NewID() string {
	return fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405.000000000"), idSeq.Add(1))
}
