// Package kv is the kvstore service: GET/PUT/DELETE /kv/<key> over one file per key in a data
// folder (a production volume). Writes are atomic (temp file, fsync, rename, fsync of the
// folder), so a value is either the old or the new one after a crash or a restart.
package kv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/clocal-dev/clocal/apps/internal/svc"
)

const (
	maxValue  = 4 << 20
	maxKey    = 180 // base64 of it must fit a 255-byte file name
	tmpPrefix = ".tmp-"
)

// Store keeps one file per key under Dir; file names are the base64url of the key.
type Store struct{ Dir string }

// Open creates dir when missing and removes temp files a crash left behind.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("kvstore: %w", err)
	}
	stale, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	return &Store{Dir: dir}, nil
}

func (s *Store) path(key string) (string, error) {
	if key == "" || len(key) > maxKey {
		return "", fmt.Errorf("key must be 1..%d bytes", maxKey)
	}
	return filepath.Join(s.Dir, base64.RawURLEncoding.EncodeToString([]byte(key))), nil
}

// Put writes value under key atomically.
func (s *Store) Put(key string, value []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.Dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(value); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return err
	}
	return s.syncDir()
}

func (s *Store) syncDir() error {
	d, err := os.Open(s.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Keys returns the keys starting with prefix, sorted.
func (s *Store) Keys(prefix string) ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, err
	}
	keys := []string{}
	for _, e := range entries {
		k, err := base64.RawURLEncoding.DecodeString(e.Name())
		if err != nil || !e.Type().IsRegular() || !strings.HasPrefix(string(k), prefix) {
			continue // temp files, .keep and strangers
		}
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys, nil
}

// Register implements svc.Component.
func (s *Store) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /kv/{$}", func(w http.ResponseWriter, r *http.Request) {
		keys, err := s.Keys(r.URL.Query().Get("prefix"))
		if err != nil {
			svc.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		svc.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
	})
	mux.HandleFunc("GET /kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.path(r.PathValue("key"))
		if err != nil {
			svc.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			svc.Error(w, http.StatusNotFound, "no such key")
			return
		} else if err != nil {
			svc.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	})
	mux.HandleFunc("PUT /kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxValue))
		if err != nil {
			svc.Error(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		if err := s.Put(r.PathValue("key"), data); err != nil {
			svc.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /kv/{key...}", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.path(r.PathValue("key"))
		if err == nil {
			err = os.Remove(p)
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			svc.Error(w, http.StatusNotFound, "no such key")
		case err != nil:
			svc.Error(w, http.StatusBadRequest, err.Error())
		default:
			_ = s.syncDir()
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// Healthy reports whether the data folder is writable.
func (s *Store) Healthy() error {
	f, err := os.CreateTemp(s.Dir, tmpPrefix+"probe-*")
	if err != nil {
		return fmt.Errorf("data folder not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Info adds the data folder and key count to GET /.
func (s *Store) Info() map[string]any {
	keys, _ := s.Keys("")
	return map[string]any{"data_dir": s.Dir, "keys": len(keys), "uid": os.Getuid()}
}
