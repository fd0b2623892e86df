// Package ledger is opsguard's tamper-evident record of every state change
// and every piece of evidence.
//
// Each Entry is a leaf of an RFC 6962 Merkle tree. Append writes the entries
// and a checkpoint of the new tree (C2SP tlog-checkpoint, signed with
// Ed25519 as a golang.org/x/mod/sumdb/note) in the caller's transaction, so
// a change and its record commit or vanish together, and no committed entry
// is ever outside a signed checkpoint. Verify recomputes the tree from the
// stored entries and checks it against every checkpoint; an entry edited,
// deleted or inserted behind the server's back is found and named by its
// sequence number. Each checkpoint names the size of the one before it in
// its signed note ("prev <size>"), so a deleted checkpoint row breaks the
// chain. The newest checkpoint is also kept outside the database (a file
// beside the key, the state of the last passing verification, and a Witness
// that cosigns each checkpoint after checking its consistency proof), so
// cutting off the tail of the log together with its checkpoints is found as
// well. The appender and Verify check the newest checkpoint with the same
// function, so neither accepts what the other refuses; a Log marked failed
// (Fail) writes nothing.
//
// The read side works in the caller's read transaction too: ProveInclusion
// and ProveConsistency answer an auditor with proofs against signed
// checkpoints, and NewExport collects the whole ledger in one snapshot as an
// Export, which Export.Verify checks offline with the public key alone.
//
// A leaf is the UTF-8 text
//
//	opsguard-ledger/v1
//	<seq>
//	<time, RFC 3339 UTC with microseconds>
//	<actor>
//	<kind>
//	<subject>
//	<hex SHA-256 of the payload>
//
// each line ending in a newline, hashed as an RFC 6962 leaf; anyone can
// recompute it from an export with the public key alone.
package ledger
