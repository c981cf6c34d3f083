package h1

import "strconv"

// Error is a message that cannot be accepted. Status is what a client is answered (400, 413, 414, 417,
// 431, 501, 505); for a response from a backend the proxy answers 502 whatever Status says.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "http/1.1: " + e.Reason + " (" + strconv.Itoa(e.Status) + ")" }

// The errors the parsers return. They are values that never change, shared by every connection.
var (
	ErrRequestLine        = &Error{400, "invalid request line"}
	ErrMethod             = &Error{400, "invalid method"}
	ErrTarget             = &Error{400, "invalid request-target"}
	ErrVersion            = &Error{400, "invalid http version"}
	ErrVersionUnsupported = &Error{505, "http version not supported"}
	ErrConnect            = &Error{501, "connect is not supported by a reverse proxy"}
	ErrLineEnding         = &Error{400, "line not ended by crlf"}
	ErrFieldName          = &Error{400, "invalid header field name"}
	ErrFieldValue         = &Error{400, "invalid header field value"}
	ErrObsFold            = &Error{400, "obsolete line folding is not accepted"}
	ErrHost               = &Error{400, "missing, repeated or invalid host"}
	ErrContentLength      = &Error{400, "invalid or conflicting content-length"}
	ErrTransferEncoding   = &Error{400, "invalid transfer-encoding"}
	ErrTECoding           = &Error{501, "transfer-coding not implemented: only chunked is"}
	ErrTEOnHTTP10         = &Error{400, "transfer-encoding in an http/1.0 message"}
	ErrCLAndTE            = &Error{400, "both content-length and transfer-encoding"}
	ErrConnectionField    = &Error{400, "invalid connection field"}
	ErrExpect             = &Error{417, "unsupported expectation"}
	ErrRequestLineTooLong = &Error{414, "request line too long"}
	ErrHeaderTooLarge     = &Error{431, "request header fields too large"}
	ErrTooManyFields      = &Error{431, "too many header fields"}
	ErrStatusLine         = &Error{502, "invalid status line"}
	ErrChunkSize          = &Error{400, "invalid chunk size line"}
	ErrChunkData          = &Error{400, "chunk data not followed by crlf"}
	ErrTrailer            = &Error{400, "invalid trailer section"}
	ErrBodyTooLarge       = &Error{413, "request body too large"}
)
