// Package conf reads keepalived.conf files exactly as keepalived does and
// turns them into a typed Config.
//
// The reader reproduces keepalived's line pipeline (lib/parser.c): comments
// with '!' and '#' anywhere outside double quotes, braces that split lines
// anywhere, include files with globs and brace expansion, $NAME definitions,
// @id conditional lines, ~SEQ/~LST loops and the 1024-byte line limit. The
// parser then walks a keyword registry that mirrors keepalived's keyword
// tables, so every value in the Config carries the file and line it came
// from, and every problem is reported as "file:line: message".
//
// conf knows nothing of sockets, interfaces or processes: it only reads
// files. Validation that needs the running system (does an interface exist?)
// is left to the caller, which can use the positions kept in the Config.
package conf
