package collect

import (
	"math"
	"strings"
	"time"

	"github.com/beevik/ntp"

	"github.com/opsguard/opsguard/host"
)

// NTP measures the clock's offset against the first of servers that
// answers validly: one query each, in order.
func NTP(servers []string, timeout time.Duration) host.Clock {
	var errs []string
	for _, s := range servers {
		r, err := ntp.QueryWithOptions(s, ntp.QueryOptions{Timeout: timeout})
		if err == nil {
			err = r.Validate()
		}
		if err != nil {
			errs = append(errs, s+": "+err.Error())
			continue
		}
		// r.ClockOffset is what to add to the local clock: the local
		// clock is ahead by its negation.
		off := -r.ClockOffset.Seconds()
		bound := math.Abs(off) + r.RootDispersion.Seconds() + r.RootDelay.Seconds()/2 + r.RTT.Seconds()/2
		return host.Clock{Source: "ntp", OffsetMS: off * 1000, ErrorMS: bound * 1000, Synchronised: true,
			Server: cut(s, 255), Stratum: int(min(r.Stratum, 16))}
	}
	return host.Clock{Source: "ntp", Error: cut("no NTP server answered: "+strings.Join(errs, "; "), 1000)}
}
