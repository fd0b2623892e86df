// Package rawexec lets storetest run SQL behind the domain services' back
// (tests that tamper with the database) without store exporting a way to
// do it to every other package.
package rawexec

import "context"

// Exec runs one statement on a *store.DB's write pool and returns the rows
// it changed. The store package sets it.
var Exec func(ctx context.Context, db any, q string, args ...any) (int64, error)

// ExecTx runs one statement in a *store.Tx, for a test that writes rows
// in bulk and lets the ledger seal them as a service's write would.
var ExecTx func(ctx context.Context, tx any, q string, args ...any) (int64, error)

// QueryRow reads one row of q on a *store.DB's read pool into dest, for a
// test that looks at columns no domain type carries (a row's seal).
var QueryRow func(ctx context.Context, db any, q string, args []any, dest ...any) error
