// Package host holds the hosts opsguard watches and the facts their agents
// (or a Prometheus) report: CPU, memory, load, every filesystem's bytes and
// inodes, the clock's offset. From the facts it keeps time series (full
// resolution for capacity.raw_window, hourly after), projects each
// filesystem's days until full by a least-squares fit, raises capacity
// alerts with hysteresis, and evaluates CP-1 … CP-3, CF-3 and CF-5.
//
// Configuration (CF-1, CF-2, CF-4): each host group's baseline is
// versioned here (draft, approved by another, superseded); the agent
// reports its results and installed packages with its facts, and a check
// going from pass to fail is drift, approved by a change ticket that names
// the host (or group) and the check and whose window holds the drift, or
// else a violation. The document itself and its evaluation are
// host/baseline's.
//
// The agent's collectors live in host/collect and its loop (queue,
// backoff) in host/agent; both produce a Report, the one wire format.
package host
