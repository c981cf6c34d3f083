package router

import (
	"slices"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// HostMode says what Host the backend receives.
type HostMode uint8

// Host modes.
const (
	HostPass    HostMode = iota // the client's Host (the default)
	HostBackend                 // the backend's host:port
	HostLiteral                 // Route.HostValue
)

// Header is one header field that a route writes.
type Header struct {
	Name  string // as written in the config
	Value string
}

// HeaderOps is a compiled list of header changes, applied in this order: the fields named in Drop
// are removed, then the Set fields are written, then the Add fields.
//
// Set replaces: its names are in Drop too, so that a field the message had is removed before the
// new one is written. Add appends: a field the message already has is kept and the Add field is
// written after it.
type HeaderOps struct {
	// Drop holds the lower-case names of the fields to remove: every removed name and every Set
	// name.
	Drop []string
	// Set are the fields that replace any of the same name.
	Set []Header
	// Add are the fields written even when the message has one of the same name.
	Add []Header
}

// Dropped reports whether a field of this name is removed.
func (o *HeaderOps) Dropped(name []byte) bool {
	for _, d := range o.Drop {
		if h1.EqualFold(name, d) {
			return true
		}
	}
	return false
}

// Removes reports whether the field with this lower-case name is removed (or replaced by a Set):
// for the fields gatehouse writes itself.
func (o *HeaderOps) Removes(lower string) bool { return slices.Contains(o.Drop, lower) }

// AppendSet appends the Set fields, then the Add fields, as header lines ("Name: value\r\n").
func (o *HeaderOps) AppendSet(dst []byte) []byte {
	dst = appendFields(dst, o.Set)
	return appendFields(dst, o.Add)
}

// AppendAdd appends only the Add fields, for a caller that writes the Set fields itself.
func (o *HeaderOps) AppendAdd(dst []byte) []byte { return appendFields(dst, o.Add) }

func appendFields(dst []byte, hs []Header) []byte {
	for i := range hs {
		dst = append(dst, hs[i].Name...)
		dst = append(dst, ": "...)
		dst = append(dst, hs[i].Value...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}
