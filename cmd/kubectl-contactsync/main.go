// Command kubectl-contactsync is the contactsync kubectl plugin: `kubectl contactsync import`,
// `catalogue` and `plan` (docs/cli.md). Install it on the PATH with
//
//	go install github.com/contactsync/contactsync/cmd/kubectl-contactsync@latest
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/contactsync/contactsync/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Options{})
	stop()
	os.Exit(code)
}
