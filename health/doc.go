// Package health runs keepalived's health checkers (TCP_CHECK, HTTP_GET,
// SSL_GET, SMTP_CHECK, MISC_CHECK, DNS_CHECK, PING_CHECK, UDP_CHECK,
// FILE_CHECK) against real servers with keepalived's timing, retry, quorum
// and notify semantics, and reports up/down events.
package health
