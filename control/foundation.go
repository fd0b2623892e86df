package control

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// LedgerVerifies is LG-3: the ledger recomputes to its signed checkpoints,
// the one kept outside the database and, with a witness (witnessed), the
// newest one the witness cosigned.
func LedgerVerifies(verify func(ctx context.Context) (*ledger.Report, error), witnessed bool) Control {
	return Control{
		ID: "LG-3.ledger-verifies", Requirement: "LG-3",
		Title: "The ledger of evidence verifies against its signed checkpoints",
		Evaluate: func(ctx context.Context) (Outcome, error) {
			rep, err := verify(ctx)
			if err != nil {
				return Outcome{}, err
			}
			refs := []Ref{{Kind: "checkpoint", ID: strconv.FormatInt(rep.Size, 10)}}
			if !rep.OK() {
				if rep.FirstBadSeq > 0 {
					refs = append(refs, Ref{Kind: "ledger", ID: strconv.FormatInt(rep.FirstBadSeq, 10), Note: "first bad entry"})
				}
				return Outcome{Status: Fail, Summary: fmt.Sprintf("The ledger does not verify: %s", rep.Problems[0]), Refs: refs}, nil
			}
			sum := fmt.Sprintf("All %d entries, %d checkpoints and %d evidence files verify; the checkpoint outside the database covers %d entries.",
				rep.Entries, rep.Checkpoints, rep.Blobs, rep.External)
			if witnessed {
				sum += fmt.Sprintf(" The ledger contains, consistently, the %d entries the witness cosigned.", rep.Witnessed)
			} else {
				sum += " No witness is configured (ledger.witness_url): a tail cut off together with its checkpoints and the file beside the key is detectable only against a checkpoint kept elsewhere (an auditor's last bundle)."
			}
			return Outcome{Status: Pass, Refs: refs, Summary: sum}, nil
		},
	}
}

// CheckpointPublished is LG-3: the newest checkpoint is also kept outside
// the database, so that cutting the log's tail is detectable. publish writes
// the head out first (it never lowers what is there), so replicas that
// each keep a file do not fail for a lag of seconds; a file that cannot be
// written, or that is ahead of the database, still fails.
func CheckpointPublished(publish func(ctx context.Context) error, head func(ctx context.Context) (int64, error), external func() (int64, error)) Control {
	return Control{
		ID: "LG-3.checkpoint-published", Requirement: "LG-3",
		Title: "The newest checkpoint is kept outside the database",
		Evaluate: func(ctx context.Context) (Outcome, error) {
			if err := publish(ctx); err != nil {
				return Outcome{}, err
			}
			size, err := head(ctx)
			if err != nil {
				return Outcome{}, err
			}
			ext, err := external()
			if err != nil {
				return Outcome{Status: Fail, Summary: "The checkpoint file beside the ledger key cannot be read: " + err.Error()}, nil
			}
			ref := []Ref{{Kind: "checkpoint", ID: strconv.FormatInt(size, 10)}}
			switch {
			case size == 0:
				return Outcome{Status: NotApplicable, Summary: "The ledger is empty."}, nil
			case ext == 0:
				return Outcome{Status: Fail, Summary: "No checkpoint is kept outside the database.", Refs: ref}, nil
			case ext > size:
				return Outcome{Status: Fail, Summary: fmt.Sprintf("The checkpoint outside the database covers %d entries but the database has %d: entries were cut off.", ext, size), Refs: ref}, nil
			case ext < size:
				// The file is written after each commit; a lag means the
				// writes to it fail.
				return Outcome{Status: Fail, Summary: fmt.Sprintf("The checkpoint outside the database covers %d of %d entries: it is not being updated.", ext, size), Refs: ref}, nil
			}
			return Outcome{Status: Pass, Summary: fmt.Sprintf("The checkpoint outside the database covers all %d entries.", size), Refs: ref}, nil
		},
	}
}

// RunsOnSchedule is GV-3: compliance is checked continuously, so the
// previous run must be no older than the schedule allows.
func (e *Engine) RunsOnSchedule(interval time.Duration) Control {
	return Control{
		ID: "GV-3.controls-on-schedule", Requirement: "GV-3",
		Title: "Every control is evaluated on schedule",
		Evaluate: func(ctx context.Context) (Outcome, error) {
			last, ok, err := e.LastRun(ctx)
			if err != nil {
				return Outcome{}, err
			}
			if !ok {
				return Outcome{Status: NotApplicable, Summary: "This is the first run of the controls."}, nil
			}
			ref := []Ref{{Kind: "run", ID: last.ID}}
			age := e.now().Sub(last.StartedAt)
			// Allow one missed beat: a run takes time, a restart delays one.
			if age > interval+interval/2 {
				return Outcome{Status: Fail, Refs: ref, Summary: fmt.Sprintf("The previous run was %s ago; the schedule is every %s.", age.Round(time.Minute), interval)}, nil
			}
			return Outcome{Status: Pass, Refs: ref, Summary: fmt.Sprintf("The previous run was %s ago, within the schedule of every %s.", age.Round(time.Second), interval)}, nil
		},
	}
}
