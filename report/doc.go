// Package report writes the audit bundle: one zip an auditor verifies
// offline, with the public key of the ledger alone.
//
// A bundle of the period [from, to) holds
//
//	manifest.json                 every other member with its SHA-256
//	manifest.sig                  the manifest's hash, signed with the ledger key (a signed note)
//	entries/entries.jsonl         the period's ledger entries, one a line, payloads as exact bytes (base64)
//	blobs/<sha256>                the evidence those entries refer to
//	checkpoints/checkpoints.jsonl the period's signed checkpoints and the newest one
//	proofs/inclusion.bin          an audit path of every entry under the newest checkpoint
//	proofs/consistency.jsonl      consistency proofs chaining the checkpoints
//	results.json                  control results by requirement, each citing its ledger entry
//	oscal/assessment-results.json the same as OSCAL assessment results
//	report.html, report.pdf       the report for people
//
// The hash of a member ending in .json is that of its RFC 8785 canonical
// form, so a re-indented JSON file still verifies; other members are
// hashed as they are. What is hashed is a member's content, not the zip's
// bytes, so a re-compressed bundle verifies too. An entry's payload is
// carried as its exact bytes, so its hash never depends on how a JSON
// tool rewrites it.
//
// proofs/inclusion.bin is the line "opsguard-inclusion/v1 <size>" and
// then, for every entry, its seq (8 bytes, big-endian), the number of
// hashes (1 byte) and the hashes (32 bytes each): the RFC 6962 audit
// path of the entry in the checkpoint of that size.
//
// Results are not taken on trust: every control run is a "controls.run"
// ledger entry, so Verify rebuilds results.json's claims from the
// entries it carries and refuses a result no entry backs, or an entry's
// result that results.json leaves out.
package report
