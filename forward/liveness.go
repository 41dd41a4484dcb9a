package forward

// Liveness is implemented by backends whose forwarding can stop on its
// own (the userspace forwarder's workers, when a receive fails): Err says
// why it stopped, nil while it forwards. ulvsd gives up VRRP mastership
// while it is not nil.
type Liveness interface {
	Err() error
}

var _ Liveness = (*Userspace)(nil)

// Err returns why the first worker that stopped on its own did, or nil
// while every worker runs (after Close too).
func (u *Userspace) Err() error {
	if p := u.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records the first worker failure.
func (u *Userspace) fail(err error) { u.failed.CompareAndSwap(nil, &err) }
