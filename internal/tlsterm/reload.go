package tlsterm

import "time"

// Reload reads every file again and, when they all load, serves the new set from the next
// handshake on. On any error it keeps serving the old set and returns the error.
func (t *Terminator) Reload() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.reload(true)
	return err
}

// ReloadIfChanged reads every file and reloads when their contents differ from the set being
// served. It reports whether a new set was swapped in. Files whose contents failed to load last
// time are not parsed again: the same error is returned until they change. The reload poller
// calls it every ReloadInterval.
func (t *Terminator) ReloadIfChanged() (reloaded bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reload(false)
}

// reload does Reload (force) or ReloadIfChanged with t.mu held.
func (t *Terminator) reload(force bool) (bool, error) {
	files, digest, err := t.read()
	if err != nil {
		t.failErr, t.failDigest = err, [32]byte{}
		return false, err
	}
	if !force {
		if digest == t.set.Load().digest {
			t.failErr = nil
			return false, nil
		}
		if t.failErr != nil && digest == t.failDigest {
			return false, t.failErr
		}
	}
	s, err := t.build(files, digest)
	if err != nil {
		t.failErr, t.failDigest = err, digest
		return false, err
	}
	t.set.Store(s)
	t.failErr = nil
	return true, nil
}

// poll checks the files on every tick until Close. It logs each reload and each distinct error
// once (a broken file is reported when it breaks, not on every tick).
func (t *Terminator) poll(tick <-chan time.Time) {
	defer close(t.done)
	var lastErr string
	for {
		select {
		case <-t.stop:
			return
		case <-tick:
		}
		t.pollOnce(&lastErr)
	}
}

// pollOnce is one check of the poller: it reloads changed files and logs the outcome, a failure
// only when its message differs from *lastErr (the previous check's failure, or "").
func (t *Terminator) pollOnce(lastErr *string) {
	reloaded, err := t.ReloadIfChanged()
	switch {
	case err != nil:
		if msg := err.Error(); msg != *lastErr {
			*lastErr = msg
			t.logf("tls: reload failed, still serving the previous certificates: %v", err)
		}
	case reloaded:
		*lastErr = ""
		t.logf("tls: reloaded %d certificates", len(t.set.Load().certs))
	default:
		*lastErr = ""
	}
}
