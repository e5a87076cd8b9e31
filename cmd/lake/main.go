// Command lake runs the medallion lake locally and operates it: ingest from
// PostgreSQL, full local executions of the state machine (and of a deployed
// one), queries over the Iceberg and meta tables, maintenance, reconcile
// and requeue, validation of files against DQDL rules, and seeding the
// demo.
//
// Every flag has an environment-variable twin; see `lake help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Each lives in its own file and registers
// itself from init.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("lake: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lake <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `lake <command> -h` for a command's flags.")
}

func main() { os.Exit(runMain()) }

// runMain runs the process's command line, stopped by SIGINT or SIGTERM,
// and returns its exit status.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return lakeMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// lakeMain runs the command line args (without the program's name) and
// returns the exit status. Everything printed goes through a
// redactingWriter, so that no password of the source database shows.
func lakeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out, errw := &redactingWriter{w: stdout}, &redactingWriter{w: stderr}
	defer errw.Flush()
	defer out.Flush()
	if len(args) < 1 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(errw)
		if len(args) < 1 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(errw, "lake: unknown command %q\n\n", args[0])
		usage(errw)
		return 2
	}
	if err := c.run(ctx, args[1:], out, errw); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(errw, "lake %s: %v\n", c.name, err)
		return 1
	}
	return 0
}
