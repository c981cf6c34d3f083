package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// liveBackend is what the admin API (/api/upstreams, internal/app/controller.go) says of a backend.
type liveBackend struct {
	Address      string     `json:"address"`
	Available    bool       `json:"available"`
	ActiveUp     bool       `json:"active_check_up"`
	EjectedUntil *time.Time `json:"ejected_until"`
	InFlight     int64      `json:"in_flight"`
	LastError    string     `json:"last_check_error"`
}

type liveUpstream struct {
	Name     string        `json:"name"`
	Backends []liveBackend `json:"backends"`
}

// liveState is the backend state of a running gatehouse, by upstream name and backend address.
type liveState map[string]map[string]*liveBackend

// maxLiveBody bounds the /api/upstreams answer read.
const maxLiveBody = 8 << 20

// fetchLive reads /api/upstreams of the gatehouse whose admin listener is at addr.
func fetchLive(cl *http.Client, addr string) (liveState, error) {
	if cl == nil {
		cl = &http.Client{Timeout: 2 * time.Second}
	}
	resp, err := cl.Get("http://" + dialable(addr) + "/api/upstreams")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/api/upstreams answered %s", resp.Status)
	}
	var ups []liveUpstream
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxLiveBody)).Decode(&ups); err != nil {
		return nil, fmt.Errorf("/api/upstreams: %w", err)
	}
	out := liveState{}
	for _, u := range ups {
		m := map[string]*liveBackend{}
		for i := range u.Backends {
			m[u.Backends[i].Address] = &u.Backends[i]
		}
		out[u.Name] = m
	}
	return out, nil
}

// dialable turns a listen address into one to connect to: ":9090" and "0.0.0.0:9090" are reached
// on the loopback address.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
