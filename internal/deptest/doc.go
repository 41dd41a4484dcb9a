// Package deptest holds the house's import rules and the test that keeps
// them (tailscale's tstest/deptest, for a whole repository): for each
// package, the ulvs packages it must never depend on, directly or not, and
// why. Test files are not checked: tests may reach across rooms. It also
// keeps built programs out of the tree (TestNoBuiltBinaries).
package deptest
