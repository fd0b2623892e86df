// Package auth holds opsguard's identities: users and their roles, API
// tokens for scripts and agents, browser sessions, and the rules of who may
// do what. Passwords are stored as argon2id hashes, tokens and session ids
// as SHA-256 hashes; none of them is ever logged or ledgered.
package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a user is allowed to do.
type Role string

// The roles of the design.
const (
	Admin           Role = "admin"
	SecurityOfficer Role = "security_officer" // the Information Security Officer
	EngineeringHead Role = "engineering_head"
	InfraOps        Role = "infra_ops"
	Engineer        Role = "engineer"
	Auditor         Role = "auditor" // reads everything, changes nothing
	Agent           Role = "agent"   // a host's token: posts facts, nothing else
)

// Roles lists every role.
var Roles = []Role{Admin, SecurityOfficer, EngineeringHead, InfraOps, Engineer, Auditor, Agent}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		names := make([]string, len(Roles))
		for i, r := range Roles {
			names[i] = string(r)
		}
		return "", fmt.Errorf("unknown role %q (one of %s)", s, strings.Join(names, ", "))
	}
	return r, nil
}

// Permission is one thing a role may do. Routes and commands name the
// permission they need; the table below is the only place that grants them.
type Permission string

// The permissions.
const (
	// Read is reading anything: registers, results, the ledger.
	Read Permission = "read"
	// ManageUsers is creating and disabling users and others' tokens.
	ManageUsers Permission = "users.manage"
	// OwnTokens is creating and revoking one's own API tokens.
	OwnTokens Permission = "tokens.own"
	// OwnAccount is changing one's own password.
	OwnAccount Permission = "account.own"
	// RunControls is running the control catalog on demand.
	RunControls Permission = "controls.run"
	// ImportScans is uploading scanner and assessment reports.
	ImportScans Permission = "scans.import"
	// TriageFindings is working on findings: starting, resolving, asking
	// for a risk acceptance or an SLA extension.
	TriageFindings Permission = "findings.triage"
	// ApproveRisk is deciding risk acceptances and SLA extensions (the
	// Information Security Officer's, VM-4, VM-5).
	ApproveRisk Permission = "risk.approve"
	// ManageRepos is putting repositories under watch and syncing them.
	ManageRepos Permission = "repos.manage"
	// ReviewChanges is recording a post-facto review of a change (CM-7)
	// and working on change tickets (CM-5): creating, submitting,
	// implementing, verifying, rolling back.
	ReviewChanges Permission = "changes.review"
	// ApproveChanges is approving or rejecting change tickets (CM-5): an
	// engineering head's or a security officer's.
	ApproveChanges Permission = "changes.approve"
	// GrantExceptions is marking a legitimate violation of the change
	// rules as an exception (the security officer's).
	GrantExceptions Permission = "changes.except"
	// ManageAssets is naming the owners of assets, whose digests of SLA
	// breaches they receive.
	ManageAssets Permission = "assets.manage"
	// PostFacts is a host agent sending what it observed.
	PostFacts Permission = "facts.post"
	// ManageBackups is declaring data sets and their copies, and reading
	// their snapshots now.
	ManageBackups Permission = "backups.manage"
	// WritePolicies is drafting, submitting and publishing versions of
	// the governance documents (GV-1).
	WritePolicies Permission = "policies.write"
	// ApprovePolicies is approving or rejecting document versions and
	// reviewing attestations: the Information Security Officer's (GV-1).
	ApprovePolicies Permission = "policies.approve"
	// Attest is filing an attestation, with evidence, that a requirement
	// is met.
	Attest Permission = "requirements.attest"
	// ManageHosts is putting a host in an environment (an admin's).
	ManageHosts Permission = "hosts.manage"
)

var grants = map[Role][]Permission{
	Admin:           {Read, ManageUsers, OwnTokens, OwnAccount, RunControls, ImportScans, ManageRepos, ManageAssets, ManageBackups, WritePolicies, ManageHosts},
	SecurityOfficer: {Read, OwnTokens, OwnAccount, RunControls, ImportScans, TriageFindings, ApproveRisk, ManageRepos, ReviewChanges, ApproveChanges, GrantExceptions, ManageAssets, ManageBackups, WritePolicies, ApprovePolicies, Attest},
	EngineeringHead: {Read, OwnTokens, OwnAccount, RunControls, ImportScans, TriageFindings, ManageRepos, ReviewChanges, ApproveChanges, ManageAssets, ManageBackups, WritePolicies, Attest},
	InfraOps:        {Read, OwnTokens, OwnAccount, ImportScans, TriageFindings, ManageRepos, ReviewChanges, ManageAssets, ManageBackups, Attest},
	Engineer:        {Read, OwnTokens, OwnAccount, ImportScans, TriageFindings, ReviewChanges},
	Auditor:         {Read, OwnTokens, OwnAccount},
	Agent:           {PostFacts},
}

// Can reports whether the role holds permission p.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }
