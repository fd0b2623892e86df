package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/auth"
)

func userCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage users"}
	var role, display, email, pwFile string
	add := &cobra.Command{
		Use:   "add USERNAME",
		Short: "Create a user (password from --password-file, OPSGUARD_USER_PASSWORD, a prompt or stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			pw, err := readPassword(pwFile, "OPSGUARD_USER_PASSWORD", cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return fetch(g, cmd, func(b *client) (auth.User, error) {
				return b.CreateUser(cmd.Context(), auth.NewUser{Username: args[0], DisplayName: display, Email: email, Role: r, Password: pw})
			},
				func(tw *tabwriter.Writer, u auth.User) {
					fmt.Fprintf(tw, "Created user %s (%s) with id %s.\n", u.Username, u.Role, u.ID)
				})
		},
	}
	add.Flags().StringVar(&role, "role", "", "role: admin, security_officer, engineering_head, infra_ops, engineer, auditor or agent")
	add.Flags().StringVar(&display, "name", "", "display name")
	add.Flags().StringVar(&email, "email", "", "email address")
	add.Flags().StringVar(&pwFile, "password-file", "", "file holding the password")
	add.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]auth.User, error) { return b.ListUsers(cmd.Context()) },
				"USERNAME\tROLE\tNAME\tEMAIL\tCREATED\tSTATE", func(tw *tabwriter.Writer, u auth.User) {
					state := "active"
					if !u.Active() {
						state = "disabled " + u.DisabledAt.Format(time.DateOnly)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.Role, u.DisplayName, u.Email, u.CreatedAt.Format(time.DateOnly), state)
				})
		},
	}
	disable := &cobra.Command{
		Use:   "disable USERNAME",
		Short: "Disable a user: their sessions and tokens stop at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (auth.User, error) { return b.DisableUser(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, u auth.User) { fmt.Fprintf(tw, "Disabled %s.\n", u.Username) })
		},
	}
	passwd := &cobra.Command{
		Use:   "passwd USERNAME",
		Short: "Reset a user's password to a one-time value, printed once, that they must change at the next sign-in; their sessions end and they are notified",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.act(cmd, func(b *client) error {
				pw, err := b.ResetPassword(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				out := struct {
					Username        string `json:"username"`
					OneTimePassword string `json:"one_time_password"`
				}{args[0], pw}
				return g.emit(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Reset the password of %s; their open sessions have ended.\nIts one-time value, shown this once (%s must choose a new one at the next sign-in):\n%s\n", args[0], args[0], pw)
				})
			})
		},
	}
	roleCmd := &cobra.Command{
		Use:   "role USERNAME ROLE",
		Short: "Give a user another role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			return fetch(g, cmd, func(b *client) (auth.User, error) { return b.SetRole(cmd.Context(), args[0], r) },
				func(tw *tabwriter.Writer, u auth.User) { fmt.Fprintf(tw, "%s is now %s.\n", u.Username, u.Role) })
		},
	}
	c.AddCommand(add, list, disable, passwd, roleCmd)
	return c
}

func tokenCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	var owner, name string
	var ttlDays int
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token for an agent (a host, a pipeline); the secret is printed once. People create their own tokens, signed in.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if owner == "" {
				return fmt.Errorf("--user is required")
			}
			return g.act(cmd, func(b *client) error {
				t, secret, err := b.CreateToken(cmd.Context(), owner, name, time.Duration(ttlDays)*24*time.Hour)
				if err != nil {
					return err
				}
				out := struct {
					Token  auth.Token `json:"token"`
					Secret string     `json:"secret"`
				}{t, secret}
				return g.emit(cmd.OutOrStdout(), out, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "Token %s for %s. Its secret, shown this once:\n%s\n", t.ID, t.Username, secret)
				})
			})
		},
	}
	create.Flags().StringVar(&owner, "user", "", "the agent the token acts as (with --server: yourself, or an agent)")
	create.Flags().StringVar(&name, "name", "", "what the token is for, e.g. ci-trivy")
	create.Flags().IntVar(&ttlDays, "ttl-days", 0, "lifetime in days (default: auth.token_ttl_days of the config)")
	create.MarkFlagRequired("name")

	var listUser string
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]auth.Token, error) { return b.ListTokens(cmd.Context(), listUser) },
				"ID\tUSER\tNAME\tCREATED\tEXPIRES\tSTATE", func(tw *tabwriter.Writer, t auth.Token) {
					exp, state := "never", "active"
					if t.ExpiresAt != nil {
						exp = t.ExpiresAt.Format(time.DateOnly)
						if time.Now().After(*t.ExpiresAt) {
							state = "expired"
						}
					}
					if t.RevokedAt != nil {
						state = "revoked " + t.RevokedAt.Format(time.DateOnly)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Username, t.Name, t.CreatedAt.Format(time.DateOnly), exp, state)
				})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's tokens")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (auth.Token, error) { return b.RevokeToken(cmd.Context(), args[0]) },
				func(tw *tabwriter.Writer, t auth.Token) {
					fmt.Fprintf(tw, "Revoked %s (%s of %s).\n", t.ID, t.Name, t.Username)
				})
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}
