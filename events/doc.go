// Package events keeps the security events of hosts and network devices
// (LG-1) for logging.retention_days (LG-2): privileged-account use, SSH
// sign-ins, account and group changes and unit failures that host agents
// read from the journal or auth.log, and the lines network devices and
// firewalls send as syslog over TCP.
//
// Events arrive in batches. Each batch is stored with its events and
// sealed into the ledger by one events.batch entry carrying the SHA-256 of
// the batch's canonical content (Batch.Hash), not one entry per event.
// Retention deletes the events of old batches through the service (an
// events.pruned entry); the batch rows and their hashes stay, so what was
// received remains provable after the events are gone. Patterns (a burst
// of failed sign-ins from one address, a root login) raise one alert each
// through the Notifier.
package events
