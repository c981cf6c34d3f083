package h2

import (
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock is a decoded header block: a request's head or its trailers. The connection owns one
// and reuses it, with its Fields, for every block (x/net's MetaHeadersFrame would cost half a dozen
// allocations per request); what a block says is copied out before the next frame is read.
type headerBlock struct {
	*http2.HeadersFrame // the HEADERS frame that began it; its fragment is spent
	Fields              []hpack.HeaderField
	Truncated           bool // the list passed MaxHeaderListSize: Fields is incomplete
}

// blockReader decodes header blocks with the connection's HPACK decoder (RFC 7541), bounding the
// decoded size as x/net's Framer does with ReadMetaHeaders.
type blockReader struct {
	dec    *hpack.Decoder
	max    uint32 // MaxHeaderListSize
	remain uint32 // of max, for the block being decoded
	blk    headerBlock
}

func (b *blockReader) init(maxList uint32) {
	b.max = maxList
	b.dec = hpack.NewDecoder(4096, b.emit)
	// A literal longer than the whole list allowed is refused while it is decoded, before its
	// string is built (an HPACK bomb of one huge field).
	b.dec.SetMaxStringLength(int(maxList))
}

// emit takes a decoded field. Past the list size limit the block is truncated and decoding goes on
// without emitting, to keep the decoder's table in step with the client's.
func (b *blockReader) emit(f hpack.HeaderField) {
	size := f.Size()
	if size > b.remain {
		b.dec.SetEmitEnabled(false)
		b.blk.Truncated = true
		b.remain = 0
		return
	}
	b.remain -= size
	b.blk.Fields = append(b.blk.Fields, f)
}

// readHeaderBlock decodes the block hf begins into c.hdr.blk, reading its CONTINUATION frames (the Framer ensures
// nothing else comes between them) within the frame read budget the caller set. Errors are x/net's
// for the same cases: a connection error COMPRESSION_ERROR for undecodable HPACK, PROTOCOL_ERROR
// for a fragment far larger than the list could still be; read errors as ReadFrame returns them.
// Fields are checked later (synthesize, checkTrailers).
func (c *Conn) readHeaderBlock(hf *http2.HeadersFrame) error {
	b := &c.hdr
	clear(b.blk.Fields) // no strings of earlier requests kept alive
	b.blk = headerBlock{HeadersFrame: hf, Fields: b.blk.Fields[:0]}
	b.remain = b.max
	b.dec.SetEmitEnabled(true)
	frag, ended := hf.HeaderBlockFragment(), hf.HeadersEnded()
	for {
		// A fragment far larger than the list could still hold is a flood. x/net's bound: twice
		// what is left, plus twice the whole list until the block is truncated; after that, any
		// fragment that is not empty (the frame read budget bounds empty ones).
		limit := 2 * int64(b.remain)
		if !b.blk.Truncated {
			limit += 2 * int64(b.max)
		}
		if int64(len(frag)) > limit {
			return connErr(http2.ErrCodeProtocol, "header block larger than the header list size allows")
		}
		if _, err := b.dec.Write(frag); err != nil {
			return connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
		}
		if ended {
			break
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			return err
		}
		cf := f.(*http2.ContinuationFrame) // the Framer refuses anything else mid-block
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := b.dec.Close(); err != nil {
		return connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	return nil
}
