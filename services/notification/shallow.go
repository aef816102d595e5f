package notification

// shallow runs f on a goroutine of its own, waits for it, and returns its
// error; a panic in f is raised again in the caller, so the server's
// recovery still sees it.
//
// Why: a goroutine's stack grows to fit the deepest call it has made, and
// the runtime shrinks it only at a GC that finds it less than a quarter
// used. A feed's goroutine lives as long as the feed, hours, but waits
// almost all of that time in a select a few frames deep; the deep calls
// (the store's queries while opening and replaying, marshalling and
// sending a notification or heartbeat) are brief. Made on the feed's own
// goroutine they leave it a 16 KiB stack per idle feed; made here, their
// stack is freed when they return and the feed keeps a small one.
func shallow(f func() error) error {
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		r := result{panicked: true}
		defer func() {
			if r.panicked {
				r.value = recover()
			}
			done <- r
		}()
		r.err = f()
		r.panicked = false
	}()
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}
