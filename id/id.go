// Package id makes the opaque identifiers opsguard gives its records.
package id

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns prefix_ followed by 16 random bytes in hex, e.g. usr_3f…; the
// prefix tells a reader of a ledger entry what kind of record it names.
func New(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return prefix + "_" + hex.EncodeToString(b[:])
}
