// Command opsguard operates and proves an Operations Security policy: it
// serves the API and UI, and administers a data directory from the shell.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRoot()
	if err := cmd.ExecuteContext(ctx); err != nil {
		var ex *exitError
		if errors.As(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintln(os.Stderr, "opsguard:", ex.msg)
			}
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "opsguard:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a given status, after its own output.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
