// Package conf reads keepalived.conf files as keepalived 2.2.7 reads them
// and turns them into a typed Config.
//
// The reader reproduces keepalived's line pipeline (lib/parser.c): comments
// with '!' and '#' anywhere outside double quotes, braces that split lines
// anywhere, include files with globs and brace expansion, $NAME definitions
// (multi-line ones too, and ${NAME} inside a word), @id conditional lines,
// ~SEQ/~LST loops and the 1024-byte line limit. The parser follows
// keepalived's process_stream, so a file means what it means to keepalived:
// an unknown keyword is reported and skipped, and a block it opens is not.
// A keyword registry mirrors keepalived's keyword tables; every value in the
// Config carries the file and line it came from.
//
// Every problem is a Diagnostic at its file and line. One keepalived also
// reports carries keepalived's class (its config_err_t), which decides the
// exit status of a configuration test as it does keepalived's, and says in
// the code which keepalived message it mirrors; ulvs corrects the
// configuration as keepalived does and runs with it. An Error is a problem
// that stops ulvsd, where keepalived stops too.
//
// The registry also says what ulvs does with each keyword (effects.go): a
// keyword is supported only when the tests that show its effect are named;
// one whose effect ulvs lacks is a warning at its line naming the
// consequence. docs/config.md is generated from it.
//
// conf knows nothing of sockets, interfaces or processes: it reads files
// (and iproute2's rt_tables for route table names, as keepalived does).
// Validation that needs the running system (does an interface exist?) is
// left to the caller, which can use the positions kept in the Config.
package conf
