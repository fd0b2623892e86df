package main

import (
	"context"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
)

func notificationsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "notifications", Short: "The notification outbox"}
	var status string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the notifications of the outbox (pending, sent, dead), newest first, with their attempts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]app.Notification, error) { return b.Notifications(cmd.Context(), status) },
				"QUEUED\tKIND\tSUBJECT\tCHANNEL\tSTATUS\tATTEMPTS\tLAST ERROR", func(tw *tabwriter.Writer, n app.Notification) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%.80s\n", n.CreatedAt.Format("2006-01-02 15:04:05"), n.Message.Kind, n.Message.Subject, n.Channel, n.Status, n.Attempts, n.LastError)
				})
		},
	}
	list.Flags().StringVar(&status, "status", "", "only pending, sent or dead")
	c.AddCommand(list)
	return c
}

// Notifications lists the outbox, newest first; the API checks the status.
func (r *client) Notifications(ctx context.Context, status string) ([]app.Notification, error) {
	var out items[app.Notification]
	q := url.Values{"limit": {"500"}}
	if status != "" {
		q.Set("status", status)
	}
	err := r.call(ctx, "GET", "/api/v1/notifications?"+q.Encode(), nil, &out)
	return out.Items, err
}
