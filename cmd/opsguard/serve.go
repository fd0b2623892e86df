package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/web"
)

func serveCmd(g *globals) *cobra.Command {
	var listen string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API and UI, run the scheduler (initialises an empty data directory first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.localConfig(cmd)
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Server.Listen = listen
			}
			logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
			ctx := cmd.Context()
			// Listen before anything else: a port in use is the commonest
			// start failure and should not leave a half-made data directory.
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
			}
			defer ln.Close()
			a, res, err := app.Init(ctx, cfg, "admin", os.Getenv("OPSGUARD_ADMIN_PASSWORD"), app.Options{Logger: logger})
			if err != nil {
				return err
			}
			defer a.Close()
			if res.KeyCreated || res.AdminCreated {
				printInit(cmd.OutOrStdout(), cfg.Server.DataDir, res)
			}
			return serve(ctx, a, ln, logger)
		},
	}
	c.Flags().StringVar(&listen, "listen", "", "listen address (env OPSGUARD_LISTEN; default 127.0.0.1:8080)")
	return c
}

func serve(ctx context.Context, a *app.App, ln net.Listener, logger *slog.Logger) error {
	cfg := a.Config
	if err := a.CheckLedgerAtStart(ctx); err != nil {
		return err
	}
	if err := a.PolicyAtStart(ctx); err != nil {
		logger.Warn("policy documents at start", "err", err)
	}
	if err := a.BackupAtStart(ctx); err != nil {
		logger.Warn("backup data sets from the config at start", "err", err)
	}
	srv := &http.Server{
		Handler:           web.New(a, logger).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // report uploads can be large
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.Server.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}

	// The one scheduler runs every periodic job (controls, syncs, expired
	// acceptances, checkpoint republishing); see package jobs.
	jobs, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	jobsDone := make(chan struct{})
	go func() { a.Jobs.Start(jobs); close(jobsDone) }()
	go a.Notify.Run(jobs) // the outbox: claimed per delivery, so every replica may run it
	if addr, err := a.ListenSyslog(jobs); err != nil {
		return err
	} else if addr != nil {
		logger.Info("syslog receiver listening", "address", addr.String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("opsguard serving", "url", scheme+"://"+ln.Addr().String(), "database", string(a.DB.Dialect()), "data_dir", cfg.Server.DataDir)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	stopJobs()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Let the job runs under way (their context is cancelled) record
	// their end before the store closes.
	select {
	case <-jobsDone:
	case <-sctx.Done():
		logger.Warn("stopping with scheduled jobs still running")
	}
	logger.Info("stopped")
	return nil
}
