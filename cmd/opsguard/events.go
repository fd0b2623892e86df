package main

import (
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/events"
)

func eventsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "events", Short: "Security events of hosts and network devices, kept and sealed (LG-1, LG-2)"}
	c.AddCommand(eventsSearchCmd(g))
	return c
}

func eventsSearchCmd(g *globals) *cobra.Command {
	var host, kind, user, address, since, until string
	var limit int
	c := &cobra.Command{
		Use:   "search",
		Short: "Search the events by host, kind, user, address and time (newest first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"host": host, "kind": kind, "user": user, "address": address, "since": since, "until": until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return fetchList(g, cmd, func(b *client) ([]events.Event, error) { return b.Events(cmd.Context(), q) },
				"TIME\tHOST\tKIND\tUSER\tADDRESS\tPROGRAM\tMESSAGE", func(tw *tabwriter.Writer, e events.Event) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Host, e.Kind, e.User, e.Address, e.Program, oneLine(e.Message, 100))
				})
		},
	}
	fl := c.Flags()
	fl.StringVar(&host, "host", "", "host ID or syslog host name")
	fl.StringVar(&kind, "kind", "", "ssh.accepted, ssh.failed, login, privilege.sudo, privilege.su, account.user, account.group, unit.failed, syslog")
	fl.StringVar(&user, "user", "", "account")
	fl.StringVar(&address, "address", "", "remote address")
	fl.StringVar(&since, "since", "", "from this time (RFC 3339)")
	fl.StringVar(&until, "until", "", "before this time (RFC 3339)")
	fl.IntVar(&limit, "limit", 0, "at most this many (100 by default, 1000 at most)")
	return c
}
