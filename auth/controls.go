package auth

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/opsguard/opsguard/control"
)

// Controls returns the controls the identities can answer.
func (s *Service) Controls() []control.Control {
	return []control.Control{
		{
			ID: "GV-4.roles-assigned", Requirement: "GV-4",
			Title:    "Every responsibility of the policy is assigned to an active user",
			Evaluate: s.rolesAssigned,
		},
		{
			ID: "LG-1.privileged-actions-ledgered", Requirement: "LG-1",
			Title:    "Every change to users and tokens is in the ledger",
			Evaluate: s.privilegedActionsLedgered,
		},
	}
}

// policyRoles are the responsibilities GV-4 names.
var policyRoles = []Role{SecurityOfficer, EngineeringHead, InfraOps, Engineer}

func (s *Service) rolesAssigned(ctx context.Context) (control.Outcome, error) {
	users, err := s.ListUsers(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	holders := map[Role][]User{}
	for _, u := range users {
		if u.Active() {
			holders[u.Role] = append(holders[u.Role], u)
		}
	}
	var missing []string
	var refs []control.Ref
	for _, r := range policyRoles {
		if len(holders[r]) == 0 {
			missing = append(missing, string(r))
			continue
		}
		for _, u := range holders[r] {
			refs = append(refs, control.Ref{Kind: "user", ID: u.ID, Note: u.Username + " (" + string(r) + ")"})
		}
	}
	if len(missing) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs,
			Summary: fmt.Sprintf("No active user holds the role %s.", strings.Join(missing, ", "))}, nil
	}
	return control.Outcome{Status: control.Pass, Refs: refs,
		Summary: fmt.Sprintf("Each of %d policy roles is held by at least one active user.", len(policyRoles))}, nil
}

// privilegedActionsLedgered cross-checks the user and token tables against
// the ledger: a row without its entry was written behind the services' back.
func (s *Service) privilegedActionsLedgered(ctx context.Context) (control.Outcome, error) {
	var problems []string
	var refs []control.Ref
	checked := 0
	err := s.store.View(ctx, func(tx Tx) error {
		seen := map[string]map[string]int64{}
		for _, k := range []string{"user.created", "user.disabled", "token.created", "token.revoked"} {
			m, err := tx.LedgerSubjects(ctx, k)
			if err != nil {
				return err
			}
			seen[k] = m
		}
		need := func(kind, subject string) {
			checked++
			if seq, ok := seen[kind][subject]; ok {
				if len(refs) < 50 {
					refs = append(refs, control.Ref{Kind: "ledger", ID: strconv.FormatInt(seq, 10), Note: kind + " " + subject})
				}
				return
			}
			problems = append(problems, fmt.Sprintf("%s has no %s entry", subject, kind))
		}
		users, err := tx.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			need("user.created", "user/"+u.ID)
			if !u.Active() {
				need("user.disabled", "user/"+u.ID)
			}
		}
		toks, err := tx.ListTokens(ctx, "")
		if err != nil {
			return err
		}
		for _, t := range toks {
			need("token.created", "token/"+t.ID)
			if t.RevokedAt != nil {
				need("token.revoked", "token/"+t.ID)
			}
		}
		return nil
	})
	if err != nil {
		return control.Outcome{}, err
	}
	if len(problems) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs,
			Summary: fmt.Sprintf("%d of %d user and token changes are not in the ledger: %s.", len(problems), checked, control.Examples(problems, 3, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Refs: refs,
		Summary: fmt.Sprintf("All %d user and token changes are in the ledger.", checked)}, nil
}
