package vrrp

import "sync"

// eventQueue is an unbounded queue in front of a channel, so the loop
// never blocks on a slow reader and no state change is lost. Events are
// kept only once someone asked for the channel (subscribe).
type eventQueue struct {
	mu     sync.Mutex
	q      []Event
	closed bool
	subbed bool
	wake   chan struct{}
	out    chan Event
	done   chan struct{} // closed when the producer is done
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
}

func (e *eventQueue) subscribe() <-chan Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.subbed {
		e.subbed = true
		go e.pump()
	}
	return e.out
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if !e.subbed || e.closed {
		e.mu.Unlock()
		return
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.done)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) pump() {
	defer close(e.out)
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			closed := e.closed
			e.mu.Unlock()
			if closed {
				return
			}
			<-e.wake
			continue
		}
		ev := e.q[0]
		e.q = e.q[1:]
		e.mu.Unlock()
		e.out <- ev
	}
}
