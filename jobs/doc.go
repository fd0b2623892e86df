// Package jobs is opsguard's one scheduler of periodic work. Modules
// register named jobs with an interval (app wires them: control runs,
// repository syncs, expired acceptances and escalation, checkpoint
// republishing); nothing else in opsguard runs work on a timer.
//
// A job is due when its newest run started an interval ago or more, or
// never finished (its replica died). The runs are stored, so a restarted
// server catches up at once on a job whose last run is older than its
// interval and waits out the rest of the interval of one that ran
// recently. A failed run is recorded with its error and tried again at its
// next interval, like a successful one.
//
// Each run holds the job's lock for its whole length: on PostgreSQL a
// session advisory lock per job, so that exactly one replica runs a job
// and another takes over when it dies; on SQLite, one process, the
// scheduler's own bookkeeping is the lock. Under the lock the scheduler
// reads the newest run again, so a replica that waited for the lock does
// not repeat a run another has just made.
//
// Runs are recorded in the plain job_runs table (start, end, outcome,
// error, replica), an operational record like a log, not a state change:
// they are not ledgered, and only the newest Options.Keep runs of each job
// are kept. The jobs themselves go through the domain services, which
// ledger what they change, as every other write does.
package jobs
