// Package id makes the opaque identifiers opsguard gives its records.
package id

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

var (
	mu   sync.Mutex
	last uint64
)

// New returns prefix_ followed by 16 bytes in hex, e.g. usr_188a…: 8 bytes
// of a strictly increasing clock in nanoseconds, then 8 random bytes. The
// prefix tells a reader of a ledger entry what kind of record it names;
// the clock makes ids of one import adjacent in every index, so that large
// imports append to B-trees instead of writing all over them.
func New(prefix string) string {
	mu.Lock()
	now := uint64(time.Now().UnixNano())
	if now <= last {
		now = last + 1
	}
	last = now
	mu.Unlock()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], now)
	rand.Read(b[8:]) // never fails (crypto/rand panics rather than return an error)
	return prefix + "_" + hex.EncodeToString(b[:])
}
