package notify

// FIFOSpec is keepalived's "notify_fifo PATH [USER [GROUP]]" (and its
// vrrp_ and lvs_ siblings): the owner applies to a FIFO ulvs creates.
type FIFOSpec struct {
	Path        string
	User, Group string
}
