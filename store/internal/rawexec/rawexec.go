// Package rawexec lets storetest run SQL behind the domain services' back
// (tests that tamper with the database) without store exporting a way to
// do it to every other package.
package rawexec

import "context"

// Exec runs one statement on a *store.DB's write pool and returns the rows
// it changed. The store package sets it.
var Exec func(ctx context.Context, db any, q string, args ...any) (int64, error)
