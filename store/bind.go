package store

import "context"

// Bound adapts a DB to a domain package's Store interface, whose
// transactions are that package's own Tx interface (which *Tx implements).
// auth.Store, for instance, is satisfied by Bound[auth.Tx].
type Bound[T any] struct{ DB *DB }

// Bind returns db as a store of transactions of type T. It panics at wiring
// time, not at the first request, when *Tx does not implement T.
func Bind[T any](db *DB) Bound[T] {
	if _, ok := any((*Tx)(nil)).(T); !ok {
		panic("store: *Tx does not implement the requested transaction interface")
	}
	return Bound[T]{DB: db}
}

// Update runs fn in a read-write transaction.
func (b Bound[T]) Update(ctx context.Context, fn func(T) error) error {
	return b.DB.Update(ctx, func(tx *Tx) error { return fn(any(tx).(T)) })
}

// View runs fn in a read-only transaction.
func (b Bound[T]) View(ctx context.Context, fn func(T) error) error {
	return b.DB.View(ctx, func(tx *Tx) error { return fn(any(tx).(T)) })
}
