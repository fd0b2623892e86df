package control

// Transcribed from ../shared/policy/REQUIREMENTS.md; TestCatalogMatchesPolicy
// keeps it in step.

// Areas of the policy, in the order of REQUIREMENTS.md.
var Areas = []Area{
	{Code: "CM", Name: "Change management"},
	{Code: "BK", Name: "Backups and recovery"},
	{Code: "CP", Name: "Capacity"},
	{Code: "CF", Name: "Configuration"},
	{Code: "LG", Name: "Logging and monitoring"},
	{Code: "VM", Name: "Technical vulnerability management"},
	{Code: "GV", Name: "Governance"},
}

// Requirements is every clause of the policy, by stable ID.
var Requirements = []Requirement{
	{ID: "CM-1", Area: "CM", Text: "Every software change is under version control; current and previous versions are retrievable."},
	{ID: "CM-2", Area: "CM", Text: "A change reaches the production branch through a pull request (merge request) and is not pushed straight to it."},
	{ID: "CM-3", Area: "CM", Text: "Every pull request is approved by someone other than its author before it is merged (segregation of duties: requester, approver and implementer of a change are never one person)."},
	{ID: "CM-4", Area: "CM", Text: "Automated checks (tests, lint, style) run on pull requests and their results are recorded with the change."},
	{ID: "CM-5", Area: "CM", Text: "Non-code changes (network, infrastructure, configuration) are tickets with an owner, an approver, the impact, and the rollback steps, approved before they are carried out."},
	{ID: "CM-6", Area: "CM", Text: "The reviewer's checklist (does it solve the problem, side effects, user experience, logic errors, environment changes, performance, a better way) can be recorded with the approval."},
	{ID: "CM-7", Area: "CM", Text: "Emergency (unplanned) changes may skip review, but say in the commit or pull request what they fix, and are reviewed after the fact within 3 business days by someone other than the author."},
	{ID: "CM-8", Area: "CM", Text: "Every change can be rolled back; the register links the change to what reverts it."},
	{ID: "CM-9", Area: "CM", Text: "Changes are tested in an environment separate from production before they reach it."},
	{ID: "CM-10", Area: "CM", Text: "Modifications to vendor-supplied products are documented; the original is retained."},
	{ID: "BK-1", Area: "BK", Text: "A full backup of all customer data is taken daily (the newest successful backup of every protected data set is younger than 26 hours)."},
	{ID: "BK-2", Area: "BK", Text: "Backups are retained at least 7 days."},
	{ID: "BK-3", Area: "BK", Text: "Backups are stored at a location outside the production environment (at least 1 copy off production)."},
	{ID: "BK-4", Area: "BK", Text: "A restore test is performed at least every 365 days for every protected data set: the data is restored, its readability checked with sanity checks, and the test documented with the snapshot restored, the checks run and their results, and who performed it (the infrastructure administrators together with the Information Security Officer)."},
	{ID: "BK-5", Area: "BK", Text: "A failed restore test notifies the data owner and requires a root-cause analysis on record."},
	{ID: "BK-6", Area: "BK", Text: "A disaster-recovery tabletop exercise is held and recorded at least every 365 days by the engineering head and the Information Security Officer."},
	{ID: "BK-7", Area: "BK", Text: "The backup procedure is documented per data set: frequency, data covered, type (full, incremental, differential), retention, and restore instructions."},
	{ID: "CP-1", Area: "CP", Text: "Critical parameters (CPU, memory, disk, inodes, and any metric the company names) are watched against thresholds at a set interval."},
	{ID: "CP-2", Area: "CP", Text: "Trends are projected (for example, days until a disk is full) for capacity planning."},
	{ID: "CP-3", Area: "CP", Text: "Crossing a threshold raises an alert in due time."},
	{ID: "CF-1", Area: "CF", Text: "Configuration baselines (server hardening, endpoint hardening, firewall, network devices) are documented and versioned."},
	{ID: "CF-2", Area: "CF", Text: "Any change to a production configuration follows CM and is approved first; drift from a baseline without an approved change is a violation."},
	{ID: "CF-3", Area: "CF", Text: "Clocks of all hosts and services are synchronised (offset within 100 ms of the reference, source reachable)."},
	{ID: "CF-4", Area: "CF", Text: "No software beyond the approved list is installed on production hosts (control of operational software)."},
	{ID: "CF-5", Area: "CF", Text: "Production is separated from other environments."},
	{ID: "LG-1", Area: "LG", Text: "Security-relevant events are logged: use of privileged accounts, system failures, policy violations, unauthorised access attempts, firewall traffic."},
	{ID: "LG-2", Area: "LG", Text: "Logs are kept at least the retention the law or contract requires (default 365 days)."},
	{ID: "LG-3", Area: "LG", Text: "Logs and evidence are protected against tampering and unauthorised access; tampering is detectable."},
	{ID: "LG-4", Area: "LG", Text: "Evidence can be collected, retained and presented for an investigation or a regulator."},
	{ID: "VM-1", Area: "VM", Text: "Internal vulnerability scans and package monitoring run continuously; external scans or penetration tests run periodically (third-party assessment at least every 365 days)."},
	{ID: "VM-2", Area: "VM", Text: "All vulnerabilities, from every scanner and every external assessment, are tracked in one register with their severity."},
	{ID: "VM-3", Area: "VM", Text: "Each severity has a remediation SLA (defaults: critical 7 days, high 30, medium 90, low 180); SLAs are tracked."},
	{ID: "VM-4", Area: "VM", Text: "A breached SLA is escalated (to the Information Security Officer and the engineering leads); more time needs a documented, approved justification."},
	{ID: "VM-5", Area: "VM", Text: "Every closed finding has a resolution: Fixed; False positive (investigated, invalid); Vulnerable but unused (the affected part is not in use); Acceptable risk (rare, justified, approved by the Information Security Officer, with an expiry)."},
	{ID: "VM-6", Area: "VM", Text: "Risk is evaluated from the tool's severity and the likelihood of exploitation (a known exploit, e.g. listed as known-exploited), and categorised High, Medium or Low."},
	{ID: "VM-7", Area: "VM", Text: "A patch is tested before production; after a high-risk fix, a later scan confirms that the vulnerability is gone."},
	{ID: "VM-8", Area: "VM", Text: "Timely information about vulnerabilities comes from trusted sources."},
	{ID: "GV-1", Area: "GV", Text: "Policies and procedures are versioned documents with a version history; each version is approved by the Information Security Officer (who is not its author)."},
	{ID: "GV-2", Area: "GV", Text: "Each document is reviewed at least every 365 days and whenever a significant change occurs; an overdue review is flagged."},
	{ID: "GV-3", Area: "GV", Text: "Compliance is verified continuously by automated reporting and can be shown to auditors."},
	{ID: "GV-4", Area: "GV", Text: "Responsibilities are assigned to roles (Information Security Officer, engineering head, infrastructure operations, engineers)."},
	{ID: "GV-5", Area: "GV", Text: "Documents carry a classification (default: Company Internal)."},
}
