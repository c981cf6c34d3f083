package h1

import "testing"

// wrkRequest is what wrk sends by default.
const wrkRequest = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"

// browserRequest is a Chrome navigation, 744 bytes.
const browserRequest = "GET /products/list?page=2&sort=price HTTP/1.1\r\n" +
	"Host: shop.example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
	"sec-ch-ua-mobile: ?0\r\n" +
	"sec-ch-ua-platform: \"Linux\"\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-User: ?1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Referer: https://shop.example.com/products/list?page=1\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Cookie: session=3f2a9c1e8b7d4a6f; theme=dark\r\n" +
	"\r\n"

// typicalResponse is a small JSON answer from a backend.
const typicalResponse = "HTTP/1.1 200 OK\r\n" +
	"Date: Mon, 27 May 2024 10:00:00 GMT\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Content-Length: 1234\r\n" +
	"Cache-Control: no-cache\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Connection: keep-alive\r\n" +
	"Keep-Alive: timeout=5\r\n" +
	"\r\n"

func BenchmarkParseRequest(b *testing.B) {
	for _, bm := range []struct{ name, in string }{
		{"wrk", wrkRequest},
		{"browser", browserRequest},
	} {
		b.Run(bm.name, func(b *testing.B) {
			in := []byte(bm.in)
			r := Request{Fields: make([]Field, 0, 32)}
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				r.Reset()
				if err := ParseRequest(in, &r, nil); err != nil || r.HeadLen != len(in) {
					b.Fatalf("ParseRequest: %v, HeadLen %d", err, r.HeadLen)
				}
			}
		})
	}
}

func BenchmarkParseResponse(b *testing.B) {
	in := []byte(typicalResponse)
	r := Response{Fields: make([]Field, 0, 32)}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset()
		if err := ParseResponse(in, &r, nil); err != nil || r.HeadLen != len(in) {
			b.Fatalf("ParseResponse: %v, HeadLen %d", err, r.HeadLen)
		}
	}
}

func BenchmarkParseChunkLine(b *testing.B) {
	in := []byte("1f40;name=\"value\"\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if size, n, err := ParseChunkLine(in); err != nil || n != len(in) || size != 0x1f40 {
			b.Fatalf("ParseChunkLine: %d %d %v", size, n, err)
		}
	}
}
