package acme

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// memStorage is a Storage in memory, for tests whose Manager may still write after Stop
// returns (Stop does not wait for work in flight), which a t.TempDir could not be removed under.
type memStorage struct {
	mu    sync.Mutex
	data  map[string][]byte
	locks map[string]chan struct{} // closed when the lock is released
}

var _ Storage = (*memStorage)(nil)

func newMemStorage() *memStorage {
	return &memStorage{data: map[string][]byte{}, locks: map[string]chan struct{}{}}
}

// Lock waits until name is free or ctx ends.
func (s *memStorage) Lock(ctx context.Context, name string) error {
	for {
		s.mu.Lock()
		held, ok := s.locks[name]
		if !ok {
			s.locks[name] = make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Unlock releases name.
func (s *memStorage) Unlock(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if held, ok := s.locks[name]; ok {
		close(held)
		delete(s.locks, name)
	}
	return nil
}

// Store keeps a copy of value under key.
func (s *memStorage) Store(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), value...)
	return nil
}

// Load returns the value of key, or fs.ErrNotExist.
func (s *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), v...), nil
}

// Delete removes key and the keys under it.
func (s *memStorage) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for k := range s.data {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(s.data, k)
			found = true
		}
	}
	if !found {
		return fs.ErrNotExist
	}
	return nil
}

// Exists reports whether key is a value or a prefix of values.
func (s *memStorage) Exists(_ context.Context, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.data {
		if k == key || strings.HasPrefix(k, key+"/") {
			return true
		}
	}
	return false
}

// List returns the keys under path: its direct children, or every key below it.
func (s *memStorage) List(_ context.Context, path string, recursive bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	prefix := strings.TrimSuffix(path, "/") + "/"
	for k := range s.data {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if !recursive {
			rest, _, _ = strings.Cut(rest, "/")
		}
		seen[prefix+rest] = true
	}
	if len(seen) == 0 {
		return nil, fs.ErrNotExist
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key.
func (s *memStorage) Stat(_ context.Context, key string) (certmagic.KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.data[key]; ok {
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, 0), Size: int64(len(v)), IsTerminal: true}, nil
	}
	for k := range s.data {
		if strings.HasPrefix(k, key+"/") {
			return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, 0)}, nil
		}
	}
	return certmagic.KeyInfo{}, fs.ErrNotExist
}
