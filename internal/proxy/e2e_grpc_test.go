package proxy_test

// gRPC end to end: grpc-go clients through gatehouse (HTTP/2 front end, h2c) to grpc-go backends
// (upstream protocol h2, h2c and TLS), and gRPC-shaped requests from HTTP/1.1 clients.

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// testService is grpc-go's interop TestService, as far as these tests call it:
//   - UnaryCall echoes the payload ("echo:" + body), sends the client's x-client metadata back in
//     a header and a trailer, answers ResponseStatus as a status error, and for the body "wait"
//     waits until the call's context ends and reports why on ended;
//   - FullDuplexCall answers each message as it arrives.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	ended chan error
}

func (s *testService) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	client := strings.Join(md.Get("x-client"), ",")
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-server-header", "saw "+client))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-server-trailer", "bye "+client))
	if st := in.GetResponseStatus(); st != nil && st.Code != 0 {
		return nil, status.Error(codes.Code(st.Code), st.Message)
	}
	body := in.GetPayload().GetBody()
	if string(body) == "wait" {
		<-ctx.Done()
		s.ended <- ctx.Err()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: append([]byte("echo:"), body...)}}, nil
}

func (s *testService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		out := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: append([]byte("echo:"), in.GetPayload().GetBody()...)}}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

// startGRPCBackend serves testService on loopback, over TLS when creds is set.
func startGRPCBackend(t *testing.T, creds credentials.TransportCredentials) (*testService, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	svc := &testService{ended: make(chan error, 4)}
	testgrpc.RegisterTestServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return svc, ln.Addr().String()
}

// grpcProxy starts gatehouse with an h2c listener in front of an h2 upstream at backend (a URL).
func grpcProxy(t *testing.T, backend, tlsYAML string) *testProxy {
	t.Helper()
	return startProxy(t, "listeners: [{address: \"127.0.0.1:1\", protocols: [h1, h2c]}]\n"+
		"routes:\n  - name: grpc\n    match: {path_prefix: /grpc.testing.TestService/}\n    upstream: grpc\n"+
		"upstreams:\n  - name: grpc\n    protocol: h2\n"+tlsYAML+"    backends: ["+backend+"]\n")
}

// grpcClient is a TestService client through the proxy at addr.
func grpcClient(t *testing.T, addr string) testgrpc.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

// grpcBackends are an h2c and a TLS grpc-go backend, each with the proxy in front of it.
func grpcBackends(t *testing.T) []struct {
	name string
	svc  *testService
	p    *testProxy
} {
	t.Helper()
	ca := tlstest.NewCA(t, "grpc backends")
	cert := ca.Server(t, "127.0.0.1").TLSCertificate()
	plainSvc, plainAddr := startGRPCBackend(t, nil)
	tlsSvc, tlsAddr := startGRPCBackend(t, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	tlsYAML := "    tls: {ca_file: " + ca.WriteRootFile(t, t.TempDir(), "ca.pem") + "}\n"
	return []struct {
		name string
		svc  *testService
		p    *testProxy
	}{
		{"h2c", plainSvc, grpcProxy(t, "http://"+plainAddr, "")},
		{"tls", tlsSvc, grpcProxy(t, "https://"+tlsAddr, tlsYAML)},
	}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Unary calls: the answer, metadata both ways (header and trailer), a status error with its
// message.
func TestE2EGRPCUnary(t *testing.T) {
	t.Parallel()
	for _, b := range grpcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			client := grpcClient(t, b.p.Addr)
			ctx := metadata.AppendToOutgoingContext(callCtx(t), "x-client", "c1")
			var header, trailer metadata.MD
			resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}},
				grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil {
				t.Fatalf("UnaryCall: %v", err)
			}
			if got := string(resp.GetPayload().GetBody()); got != "echo:hello" {
				t.Errorf("answer %q", got)
			}
			if got := header.Get("x-server-header"); len(got) != 1 || got[0] != "saw c1" {
				t.Errorf("header metadata %v", header)
			}
			if got := trailer.Get("x-server-trailer"); len(got) != 1 || got[0] != "bye c1" {
				t.Errorf("trailer metadata %v", trailer)
			}

			_, err = client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing: ünïcode %"}},
				grpc.Trailer(&trailer))
			st, _ := status.FromError(err)
			if st.Code() != codes.NotFound || st.Message() != "no such thing: ünïcode %" {
				t.Errorf("status error %v, want NotFound with its message", err)
			}
			if got := trailer.Get("x-server-trailer"); len(got) != 1 || got[0] != "bye c1" {
				t.Errorf("trailer metadata of a failed call %v", trailer)
			}
		})
	}
}

// A bidirectional stream: every message is relayed at once (each answer arrives before the next
// message is sent), then the stream ends cleanly.
func TestE2EGRPCBidiStreaming(t *testing.T) {
	t.Parallel()
	for _, b := range grpcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			stream, err := grpcClient(t, b.p.Addr).FullDuplexCall(callCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				msg := fmt.Sprintf("m%d-%s", i, strings.Repeat("x", i*1000))
				if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				out, err := stream.Recv()
				if err != nil {
					t.Fatalf("recv %d: %v", i, err)
				}
				if got := string(out.GetPayload().GetBody()); got != "echo:"+msg {
					t.Fatalf("answer %d: %q", i, trunc(got))
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				t.Errorf("end of stream: %v, want io.EOF (status OK)", err)
			}
		})
	}
}

// A call whose deadline passes gets DEADLINE_EXCEEDED, and the backend's call is cancelled: the
// deadline travels as grpc-timeout, and the client's reset reaches the backend.
func TestE2EGRPCDeadline(t *testing.T) {
	t.Parallel()
	for _, b := range grpcBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := grpcClient(t, b.p.Addr).UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("wait")}})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Errorf("error %v, want DEADLINE_EXCEEDED", err)
			}
			select {
			case why := <-b.svc.ended:
				if !errors.Is(why, context.DeadlineExceeded) && !errors.Is(why, context.Canceled) {
					t.Errorf("the backend's call ended with %v", why)
				}
			case <-time.After(ioTimeout):
				t.Fatal("the backend's call was never cancelled")
			}
		})
	}
}

// grpcFrame is msg as a gRPC length-prefixed message.
func grpcFrame(t *testing.T, msg proto.Message) []byte {
	t.Helper()
	pb, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 5, 5+len(pb))
	binary.BigEndian.PutUint32(out[1:], uint32(len(pb)))
	return append(out, pb...)
}

// gRPC-shaped requests from an HTTP/1.1 client (POST, application/grpc, a chunked body, TE:
// trailers): the answer comes back chunked, with grpc-status as a trailer, or in the head of a
// Trailers-Only answer.
func TestE2EGRPCOverHTTP1Client(t *testing.T) {
	t.Parallel()
	_, addr := startGRPCBackend(t, nil)
	p := grpcProxy(t, "http://"+addr, "")
	send := func(c *client, frame []byte) *response {
		t.Helper()
		c.send(fmt.Sprintf("POST /grpc.testing.TestService/UnaryCall HTTP/1.1\r\nHost: grpc.example\r\n"+
			"Content-Type: application/grpc\r\nTE: trailers\r\nConnection: TE\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(frame), frame))
		return c.read("POST")
	}
	c := dial(t, p.Addr)

	r := send(c, grpcFrame(t, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("over h1")}}))
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/grpc" || len(r.TransferEncoding) == 0 {
		t.Fatalf("%d %v %v", r.StatusCode, r.Header, r.TransferEncoding)
	}
	if got := r.Trailer.Get("Grpc-Status"); got != "0" {
		t.Errorf("trailers %v, want grpc-status 0", r.Trailer)
	}
	want := grpcFrame(t, &testpb.SimpleResponse{Payload: &testpb.Payload{Body: []byte("echo:over h1")}})
	if r.Body != string(want) {
		t.Errorf("body % x, want % x", r.Body, want)
	}

	r = send(c, grpcFrame(t, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "gone"}}))
	st, msg := r.Header.Get("Grpc-Status"), r.Header.Get("Grpc-Message")
	if st == "" {
		st, msg = r.Trailer.Get("Grpc-Status"), r.Trailer.Get("Grpc-Message")
	}
	if r.StatusCode != 200 || st != "5" || msg != "gone" {
		t.Errorf("status answer %d grpc-status %q message %q", r.StatusCode, st, msg)
	}
}

// The backend's certificate is verified for gRPC as for any https backend: an unknown CA is a
// connect failure, which the client sees as UNAVAILABLE (a 502 from gatehouse).
func TestE2EGRPCBackendCertificateVerified(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "grpc backends")
	other := tlstest.NewCA(t, "someone else")
	cert := ca.Server(t, "127.0.0.1").TLSCertificate()
	_, addr := startGRPCBackend(t, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	p := grpcProxy(t, "https://"+addr, "    tls: {ca_file: "+other.WriteRootFile(t, t.TempDir(), "ca.pem")+"}\n")
	_, err := grpcClient(t, p.Addr).UnaryCall(callCtx(t), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("error %v, want UNAVAILABLE", err)
	}
	found := false
	for _, e := range p.errors() {
		found = found || strings.Contains(e, "connect:") && strings.Contains(e, "unknown authority")
	}
	if !found {
		t.Errorf("no certificate failure reported: %q", p.errors())
	}
}
