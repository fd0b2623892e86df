package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/agent"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/host/collect"
)

// hostView is a host with its capacity, as GET /api/v1/hosts/{name} answers.
type hostView struct {
	host.Host
	Capacity host.Status `json:"capacity"`
}

func hostCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "host", Short: "Hosts reporting facts: environments, capacity, clocks (CP-1 … CP-3, CF-3, CF-5)"}
	c.AddCommand(hostListCmd(g), hostShowCmd(g), hostEnvCmd(g), hostGroupCmd(g), hostDriftCmd(g), hostSoftwareCmd(g))
	return c
}

func hostListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Every host, production first, with its environment and flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]host.Host, error) { return b.Hosts(cmd.Context()) },
				"HOST\tENVIRONMENT\tGROUPS\tLAST SEEN\tADDRESS\tFLAGS", func(tw *tabwriter.Writer, h host.Host) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Environment, strings.Join(h.Groups, ","), h.LastSeen.Format(time.RFC3339), h.Address, strings.Join(h.Flags, "; "))
				})
		},
	}
}

func hostShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show HOST",
		Short: "A host's newest facts and capacity",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (hostView, error) { return b.Host(cmd.Context(), args[0]) }, func(tw *tabwriter.Writer, v hostView) {
				st := v.Capacity
				rows := [][2]string{{"Host", v.Name}, {"ID", v.ID}, {"Environment", v.Environment + " (set by " + v.EnvSetBy + ")"},
					{"Groups", strings.Join(v.Groups, ", ")}, {"Last seen", v.LastSeen.Format(time.RFC3339)}, {"Address", v.Address},
					{"CPU", fmt.Sprintf("%.1f%% (%s)", st.CPUPercent, st.CPUState)}, {"Memory", fmt.Sprintf("%.1f%% (%s)", st.MemoryPercent, st.MemoryState)},
					{"Load", fmt.Sprintf("%.2f %.2f %.2f", v.Facts.Load.Load1, v.Facts.Load.Load5, v.Facts.Load.Load15)}}
				for _, f := range st.Filesystems {
					rows = append(rows, [2]string{"Filesystem " + f.Mount, fmt.Sprintf("%.1f%% bytes, %.1f%% inodes, %s, %s", f.UsedPercent, f.InodePercent, f.State, days(f.DaysUntilFull))})
				}
				if c := v.Facts.Clock; c != nil {
					rows = append(rows, [2]string{"Clock", fmt.Sprintf("%s offset %.2f ms, error bound %.2f ms, synchronised %v %s", c.Source, c.OffsetMS, c.ErrorMS, c.Synchronised, c.Error)})
				}
				rows = append(rows, [2]string{"Alerts", strings.Join(st.Firing, ", ")}, [2]string{"Flags", strings.Join(v.Flags, "; ")})
				printRows(tw, rows)
			})
		},
	}
}

func days(d *float64) string {
	if d == nil {
		return "not growing"
	}
	return fmt.Sprintf("full in %.1f days", *d)
}

func hostEnvCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "env HOST ENVIRONMENT",
		Short: "Put a host in an environment (admin); the agent's --env no longer changes it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Host, error) { return b.SetHostEnvironment(cmd.Context(), args[0], args[1]) },
				func(tw *tabwriter.Writer, h host.Host) { fmt.Fprintf(tw, "Host %s is in %s.\n", h.Name, h.Environment) })
		},
	}
}

func hostGroupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "group HOST [GROUP...]",
		Short: "Put a host in groups (admin; none: no group); the first group with thresholds in capacity.groups sets its levels, and the agent's --group no longer changes them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetch(g, cmd, func(b *client) (host.Host, error) { return b.SetHostGroups(cmd.Context(), args[0], args[1:]) },
				func(tw *tabwriter.Writer, h host.Host) {
					fmt.Fprintf(tw, "Host %s is in groups: %s.\n", h.Name, strings.Join(append([]string{}, h.Groups...), ", "))
				})
		},
	}
}

func capacityCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "capacity", Short: "Capacity of every host: usage, thresholds, days until full (CP-1 … CP-3)"}
	c.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Every host and filesystem with its usage, threshold state and days until full",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchList(g, cmd, func(b *client) ([]host.Status, error) { return b.CapacityStatus(cmd.Context()) },
				"HOST\tENVIRONMENT\tSTATE\tCPU\tMEMORY\tFILESYSTEMS\tCLOCK\tALERTS", func(tw *tabwriter.Writer, s host.Status) {
					var fs []string
					for _, f := range s.Filesystems {
						x := fmt.Sprintf("%s %.0f%%", f.Mount, f.UsedPercent)
						if f.DaysUntilFull != nil {
							x += fmt.Sprintf(" (full in %.1fd)", *f.DaysUntilFull)
						}
						fs = append(fs, x)
					}
					state := s.State
					if s.Silent {
						state += " SILENT"
					}
					clock := "off"
					if s.ClockOK {
						clock = "ok"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f%%\t%.0f%%\t%s\t%s\t%s\n", s.Host, s.Environment, state, s.CPUPercent, s.MemoryPercent, strings.Join(fs, ", "), clock, strings.Join(s.Firing, ","))
				})
		},
	})
	c.AddCommand(capacityHistoryCmd(g))
	return c
}

func capacityHistoryCmd(g *globals) *cobra.Command {
	var days int
	c := &cobra.Command{
		Use:   "history HOST",
		Short: "A host's sealed daily capacity records (peaks, projections), newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchList(g, cmd, func(b *client) ([]host.DayRecord, error) { return b.CapacityHistory(cmd.Context(), args[0], days) },
				"DAY\tCPU AVG/PEAK\tMEMORY AVG/PEAK\tLOAD PEAK\tFILESYSTEMS\tSTATE", func(tw *tabwriter.Writer, r host.DayRecord) {
					var fs []string
					for _, f := range r.Filesystems {
						x := fmt.Sprintf("%s %.1f%%", f.Mount, f.PeakUsedPercent)
						if f.DaysUntilFull != nil {
							x += fmt.Sprintf(" (full in %.1fd)", *f.DaysUntilFull)
						}
						fs = append(fs, x)
					}
					fmt.Fprintf(tw, "%s\t%.1f%%/%.1f%%\t%.1f%%/%.1f%%\t%.2f\t%s\t%s\n", r.Day, r.CPUAvg, r.CPUPeak, r.MemoryAvg, r.MemoryPeak, r.Load1Peak, strings.Join(fs, ", "), r.State)
				})
		},
	}
	c.Flags().IntVar(&days, "days", 30, "how many days, newest first (at most 400)")
	return c
}

// agentFlags are the agent's own flags (--server and --token-file are the
// global ones).
type agentFlags struct {
	once     bool
	interval time.Duration
	env      string
	stateDir string
	ntp      []string
	groups   []string
	queueMax int
	events   bool
	authLog  string
}

func agentCmd(g *globals) *cobra.Command {
	var f agentFlags
	c := &cobra.Command{
		Use:   "agent [--server URL --token-file F] [--once]",
		Short: "The host agent: collect this host's facts every interval and post them (an agent token)",
		Long: `The host agent collects CPU, memory, load, every real filesystem's bytes and inodes and
the clock's offset (chrony, else --ntp-server) and posts them to the server every --interval.
While the server cannot be reached, reports wait in a bounded queue in --state-dir and are
sent, oldest first, when it is back. --once collects one report: printed without --server,
posted with it (exit 0 only when the server accepted it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, g, f) },
	}
	fl := c.Flags()
	fl.BoolVar(&f.once, "once", false, "collect once: print it (-o json) or, with --server, post it and exit")
	fl.DurationVar(&f.interval, "interval", time.Minute, "how often to collect and post")
	fl.StringVar(&f.env, "env", "", "this host's environment (production, staging, …); an admin's opsguard host env overrides it")
	fl.StringVar(&f.stateDir, "state-dir", "/var/lib/opsguard-agent", "keeps the queue and, without /etc/machine-id, the host's ID")
	fl.StringSliceVar(&f.ntp, "ntp-server", nil, "NTP servers (host[:port]) to measure the clock against where chrony is not running")
	fl.StringSliceVar(&f.groups, "group", nil, "host groups (capacity thresholds per group)")
	fl.IntVar(&f.queueMax, "queue-max", 10080, "reports kept while the server is down (oldest dropped beyond)")
	fl.BoolVar(&f.events, "events", true, "ship security events from the journal (auth.log without one) at every collection (LG-1)")
	fl.StringVar(&f.authLog, "auth-log", "/var/log/auth.log", "the log read for security events on a host without a journal")
	return c
}

func runAgent(cmd *cobra.Command, g *globals, f agentFlags) error {
	if f.interval < time.Second {
		return fmt.Errorf("--interval %s: at least 1s", f.interval)
	}
	stateDir := f.stateDir
	if f.once && g.server == "" && !cmd.Flags().Changed("state-dir") {
		stateDir = filepath.Join(os.TempDir(), "opsguard-agent")
	}
	col, err := collect.New(collect.Options{StateDir: stateDir, Environment: f.env, NTPServers: f.ntp, Agent: "opsguard " + version})
	if err != nil {
		return err
	}
	if len(f.groups) > 0 {
		col.Groups = f.groups
	}
	sys := baseline.Root{Dir: "/", Run: runProgram}
	if f.once && g.server == "" {
		r := agent.New(col, nil, nil, agent.Options{System: sys}).Collect(cmd.Context())
		if g.output == "json" {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}
		return printFacts(cmd, g, r)
	}
	if g.server == "" {
		return errors.New("agent: --server URL (and --token-file) needed; or --once to print one collection")
	}
	b, err := newRemote(g.server, g.tokenFile)
	if err != nil {
		return err
	}
	poster := agent.HTTP{URL: g.server, Token: b.token, Client: b.http}
	if f.once {
		r := agent.New(col, poster, nil, agent.Options{System: sys}).Collect(cmd.Context())
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := poster.Post(cmd.Context(), body); err != nil {
			return fmt.Errorf("report not accepted: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Report of %s (%s) at %s accepted.\n", r.Hostname, r.HostID, r.CollectedAt.Format(time.RFC3339))
		return nil
	}
	q, err := agent.OpenQueue(filepath.Join(stateDir, "queue"), f.queueMax)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	logger.Info("agent started", "host_id", col.HostID(), "server", g.server, "interval", f.interval.String())
	opts := agent.Options{Interval: f.interval, Logger: logger, System: sys}
	if f.events {
		opts.Events = &collect.Journal{HostID: col.HostID(), StateDir: stateDir, AuthLog: f.authLog}
		opts.EventsPoster = agent.HTTP{URL: g.server, Token: b.token, Client: b.http, Path: agent.EventsPath}
	}
	return agent.New(col, poster, q, opts).Run(ctx)
}

// runProgram runs one of the programs a baseline reads (nft,
// iptables-save, dpkg-query, rpm), bounded in time.
func runProgram(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func printFacts(cmd *cobra.Command, g *globals, r host.Report) error {
	return g.emit(cmd.OutOrStdout(), r, func(tw *tabwriter.Writer) {
		rows := [][2]string{{"Host", r.Hostname + " (" + r.HostID + ")"}, {"Collected", r.CollectedAt.Format(time.RFC3339)},
			{"CPU", fmt.Sprintf("%.1f%% of %d cores", r.CPU.Percent, r.CPU.Cores)},
			{"Memory", fmt.Sprintf("%.1f%% of %d bytes", r.Memory.Percent(), r.Memory.TotalBytes)},
			{"Load", fmt.Sprintf("%.2f %.2f %.2f", r.Load.Load1, r.Load.Load5, r.Load.Load15)}}
		for _, f := range r.Filesystems {
			rows = append(rows, [2]string{"Filesystem " + f.Mount, fmt.Sprintf("%.1f%% of %d bytes, %d of %d inodes (%s %s)", f.Percent(), f.TotalBytes, f.InodesUsed, f.InodesTotal, f.Type, f.Device)})
		}
		if c := r.Clock; c != nil {
			rows = append(rows, [2]string{"Clock", fmt.Sprintf("%s offset %.2f ms, error bound %.2f ms, synchronised %v %s", c.Source, c.OffsetMS, c.ErrorMS, c.Synchronised, c.Error)})
		}
		if b := r.Baseline; b != nil {
			for _, x := range b.Results {
				verdict := "pass"
				if !x.Pass {
					verdict = "FAIL " + x.Detail
				}
				rows = append(rows, [2]string{"Check " + x.Check, verdict})
			}
		}
		if r.Packages != nil {
			rows = append(rows, [2]string{"Packages", fmt.Sprintf("%d installed", len(r.Packages))})
		}
		for _, e := range r.Errors {
			rows = append(rows, [2]string{"Error", e})
		}
		printRows(tw, rows)
	})
}
