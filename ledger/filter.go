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
}
