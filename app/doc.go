// Package app wires one opsguard instance together from its process
// config: the store, the ledger, the services and the control engine. The
// command line, the server and the end-to-end tests build it the same way.
//
// # How a module plugs in
//
// A module (vuln and change today; backup, host, policy and report next)
// is one domain package that owns its types and its service, and a file or
// two in each face. Every module plugs in the same way; vuln and change
// are the worked examples named below. Each face keeps one list of
// modules, and everything in that face walks it, so a module is one entry
// per face:
//
//   - app: a module value (app/vuln.go vulnModule: its name, how it opens
//     its services, its controls, its jobs) in modules (app/module.go);
//   - web: a module value (web/vuln.go vulnModule: its routes and its
//     links in the navigation) in modules (web/module.go);
//   - CLI: its name and command in modules (cmd/opsguard/root.go).
//
// The faces' lists carry the names of app.Modules, in its order, and
// their tests (web/module_test.go, cmd/opsguard/module_test.go) fail when
// a face misses a module. For a new module "backup":
//
// Migrations. Plain SQL in store/migrations/NNNN_backup.sql, embedded and
// run at start, each in its own transaction (store/migrate.go). A number
// is unique but need not follow the last one (two branches take two
// numbers); a duplicate is refused at start. One file serves both engines:
// the few differences are macros expanded by store.dialectSQL
// ({{int64_pk}}, {{finding_key}}). Examples: 0002_vuln.sql, 0007_change.sql.
//
// Sealed tables. Every table a control, a page or an export reads is
// declared sealed right after its CREATE TABLE with {{seal TABLE KEY
// [KEY2]}} (text key columns; store/seal.go, 0020_seal.sql): its rows then
// carry the sequence number of the ledger entry that last sealed them and
// the hash of their content, and ledger verify checks each against the
// ledger (edited, inserted, deleted rows are named). The appender seals
// the rows a transaction changed with one ledger.rows entry when the
// service's Append closes, so a service writes its rows and then appends,
// in the same transaction; a transaction that changes a sealed row and
// appends nothing is refused at commit. A column added later to a sealed
// table must be nullable without a default (NULLs are left out of a
// row's content, so existing rows keep their hash). Operational state that
// changes without a decision (sessions, sign-in failures, job runs, the
// outbox and its attempts) stays unsealed.
//
// Store queries. store/backup.go: methods on *store.Tx, static SQL with
// the store's ? placeholders, for both engines (store/vuln.go,
// store/change.go, store/ticket.go). The domain package never sees them as
// such: it declares the small Tx interface it needs (vuln.Tx,
// vuln.WorkflowTx, change.Tx, change.TicketTx), and the module's open
// binds the database to it with store.Bind[backup.Tx](a.DB), which panics
// at wiring when *store.Tx lacks a method, so a missing query fails every
// test.
//
// Service. backup/service.go: NewService(store, log, options) with time
// injected (now). Every state change runs in one transaction
// (store.Update) and appends its ledger.Event with s.log.Append in that
// same transaction; a step that can also run inside a larger operation
// takes that operation's transaction as a parameter (vuln's workflow
// steps inside an import), never through the context. Errors are
// opsguard.Errorf kinds, which the API maps to statuses. Wiring: a field
// of App (app/app.go) for the faces to call it, and backupModule in
// app/backup.go whose open builds it; Open runs every module's open once
// the store, the ledger, Auth and Notify are ready. The domain package
// never imports its own importers/, sources/ or collect/ folder: those
// produce the domain's types, and the service declares what it asks of
// them, which the module's open passes in (vuln.Options.Formats:
// importers.Formats{} in app/vuln.go).
//
// API routes and pages. web/backup.go: func (s *Server) backupRoutes()
// []Route, one Route per method and pattern with the auth.Permission it
// needs (Perm) or Public, and UI for pages (web/vuln.go vulnRoutes,
// web/change.go changeRoutes). backupModule (web/backup.go) names that
// function and the links of its pages for the navigation, which
// layout.html renders from the modules: the dashboard, the modules' pages
// in the order of the list, then the foundation's. The route table is the
// one place of authorisation: wrap checks Perm before any handler runs,
// and web/authz_test.go walks the table against every role, so a new route
// also needs its row in that test's table, and an /api/v1 route its entry
// in web/openapi.json (web/openapi_test.go). Handlers parse, call the
// service and answer; they hold no rules. Templates go in web/templates.
//
// CLI commands. cmd/opsguard/backup.go: backupCmd(g) returning a cobra
// command, named in the CLI's modules, whose subcommands each make one
// call of the API client (cmd/opsguard/client.go: one method per API call,
// e.g. ImportScan, Findings). With --server the client speaks HTTP with a
// token; without, it runs the same http.Handler in this process over an
// in-memory transport as the operating-system user
// (cmd/opsguard/inprocess.go, principal cli:<user>), so authorisation and
// validation are the API's in both cases (cmd/opsguard/parity_test.go
// checks they agree).
//
// Controls. The service's Controls() []control.Control, each tied to a
// requirement ID of control/catalog.go (BK-1 … BK-7 are there already,
// shown as not automated until a control claims them): vuln/controls.go,
// change/controls.go. backupModule's controls returns them, and
// registerControls (app/app.go) registers every module's with the engine.
//
// Jobs. Periodic work is a jobs.Job{Name, Interval, Run} that
// backupModule's jobs returns; registerJobs (app/jobs.go) puts every
// module's on the one scheduler, which runs each job on one replica at a
// time and records its runs (shown on /readyz and /jobs). Examples:
// change-sync (App.SyncAll), vuln-expiry.
//
// Notification kinds. A service that notifies declares a Notifier of its
// own, taking the transaction of the event (vuln.Notifier in
// vuln/escalate.go, auth.Notifier); app implements it (app/notify.go)
// by writing the message to the outbox and ledgering that it was queued,
// in that same transaction, so nothing decided is lost to a crash. The
// kind ("vuln.sla_breached", "control.failed") is what
// notifications.routes of the config routes to channels; the notify
// package's dispatcher sends and retries.
//
// # What is still central
//
// Data, not switches: a route's row in the table of web/authz_test.go and
// an /api/v1 route's entry in web/openapi.json, each checked against the
// route table by its test. The foundation (users, tokens, the ledger,
// controls, jobs, notifications) is the base of every face, not a module.
package app
