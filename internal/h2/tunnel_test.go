package h2

import (
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestExtendedConnect: a WebSocket over HTTP/2 (RFC 8441) reaches the engine as an HTTP/1.1
// upgrade; its 101 becomes :status 200 and the stream a tunnel both ways.
func TestExtendedConnect(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	if c.settings[http2.SettingEnableConnectProtocol] != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised: %v", c.settings)
	}
	ws := func(path string) uint32 {
		return c.request(false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", path,
			":authority", "a", "sec-websocket-version", "13")
	}

	t.Run("tunnel", func(t *testing.T) {
		id := ws("/ws")
		var got []byte
		var status string
		sent := false
		for {
			f := c.read()
			if f.Header().StreamID != id {
				continue
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				status = f.PseudoValue("status")
				for _, h := range f.RegularFields() {
					switch h.Name {
					case "sec-websocket-accept", "upgrade", "connection":
						t.Errorf("field %s forwarded", h.Name)
					}
				}
				if status != "200" || f.StreamEnded() {
					t.Fatalf("status %q, ended %v", status, f.StreamEnded())
				}
				c.fr.WriteData(id, false, []byte("ping "))
				c.fr.WriteData(id, false, []byte("pong"))
			case *http2.DataFrame:
				got = append(got, f.Data()...)
				if !sent && len(got) == len("ping pong") {
					sent = true
					c.fr.WriteData(id, true, nil) // the client is done: EOF to the engine
				}
				if f.StreamEnded() {
					if string(got) != "ping pong" {
						t.Fatalf("echoed %q", got)
					}
					return
				}
			case *http2.RSTStreamFrame:
				t.Fatalf("RST_STREAM %v", f.ErrCode)
			}
		}
	})

	t.Run("refused upgrade", func(t *testing.T) {
		id := ws("/not-ws")
		res, _ := c.collect(id)
		if r := res[id]; r.status != "404" || string(r.body) != "not found" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("plain CONNECT reaches the engine as CONNECT", func(t *testing.T) {
		id := c.request(false, ":method", "CONNECT", ":authority", "b.example:443")
		res, _ := c.collect(id)
		// The test engine, like gatehouse's, cannot parse a CONNECT and gives up: RST_STREAM.
		if r := res[id]; !r.reset || r.rst != http2.ErrCodeInternal {
			t.Fatalf("%+v", r)
		}
	})
}

// TestCurl runs curl (nghttp2) against a Conn: h2c with prior knowledge and TLS with ALPN.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required: apt-get install curl")
	}
	e := newTestEngine()
	srvTLS, _ := serverTLS(t)
	plain := "http://" + startServer(t, Options{Serve: e.serve}, nil).addr
	secure := "https://" + startServer(t, Options{Serve: e.serve}, srvTLS).addr
	big := strings.Repeat("0123456789", 200000)
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string // body, a newline, then "version status"
	}{
		{"h2c get", []string{"--http2-prior-knowledge", plain + "/x"}, "", "not found\n2 404"},
		{"h2c post echo", []string{"--http2-prior-knowledge", "--data-binary", "hello", plain + "/echo"}, "", "hello\n2 200"},
		{"h2c chunked upload", []string{"--http2-prior-knowledge", "-H", "Transfer-Encoding: chunked", "--data-binary", "abc",
			plain + "/echo"}, "", "abc\n2 200"},
		{"tls get", []string{"--http2", "-k", secure + "/x"}, "", "not found\n2 404"},
		{"tls big post", []string{"--http2", "-k", "--data-binary", "@-", secure + "/echo"}, big, big + "\n2 200"},
		{"tls trailers", []string{"--http2", "-k", secure + "/chunked"}, "", "hello world\n2 200"},
		{"tls head", []string{"--http2", "-k", "-I", secure + "/head"}, "", "HTTP/2 200 \r\ncontent-length: 11\r\n\r\n\n2 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-sS", "--max-time", "10", "-w", "\n%{http_version} %{http_code}"}, tt.args...)
			cmd := exec.Command("curl", args...)
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("curl %v: %v", tt.args, err)
			}
			if string(out) != tt.want {
				if len(out) > 300 {
					out = append(out[:150:150], out[len(out)-150:]...)
				}
				t.Fatalf("got %q", out)
			}
		})
	}
}
