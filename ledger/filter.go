package ledger

// EntryFilter selects entries for listing; zero values select all. The
// store reads it, and the faces (API, pages) build it without knowing the
// store.
type EntryFilter struct {
	Kind    string
	Subject string
	Actor   string
	Before  int64 // only seq < Before; 0 for the newest
	Limit   int
	// NoSeals leaves out the entries that only seal rows (KindRows,
	// KindSealed): a reader of the ledger page wants what happened.
	NoSeals bool
}
