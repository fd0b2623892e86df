package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/opsguard/opsguard/host/collect"
)

// EventsPath is where the server takes batches of security events.
const EventsPath = "/api/v1/events"

// ShipEvents collects the security events since the kept position and
// posts them as one batch (none: a heartbeat), then keeps the new
// position; on a failed post the position stays and the same lines are
// read again next time. A batch the server refuses is logged with its
// counts and passed over, so that one bad line cannot stop the shipping.
// It returns the events shipped.
func ShipEvents(ctx context.Context, j *collect.Journal, p Poster, log *slog.Logger) (int, error) {
	b, pos, err := j.Collect(ctx)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(b)
	if err != nil {
		return 0, err
	}
	err = p.Post(ctx, body)
	var ref *Refused
	if errors.As(err, &ref) {
		log.Error("event batch refused by the server; passed over", "events", len(b.Events), "malformed", b.Malformed, "reason", ref.Reason)
	} else if err != nil {
		return 0, err
	}
	if b.Malformed > 0 {
		log.Warn("journal lines not read", "malformed", b.Malformed)
	}
	return len(b.Events), j.Commit(pos)
}
