// Command genhash computes the MD5 digest of a web page the way
// keepalived's HTTP_GET and SSL_GET checkers see it, for their "digest"
// keyword. It is a drop-in for keepalived's genhash: the same flags
// (-s -p -u -S -I -V -v -h -m -P -t and their long forms) and the same
// output, byte for byte — the digest line, and with -v the hex dumps of
// the header and body as read, the digest dump and the response time.
//
// Differences from Debian's keepalived 2.2.7 genhash: a long option
// missing its argument ("--url" at the end) is reported as "Missing
// parameter for option --url" where keepalived crashes; -m sets SO_MARK
// only on Linux.
package main
