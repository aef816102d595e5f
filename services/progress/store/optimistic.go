package store

// optimistic is the read-modify-write every update uses: read the row,
// apply change, and write it only if the revision read is still current
// (write, which may set stamps on the row, reports whether it was). When another writer got in between, it
// starts over, unless the caller pinned a revision (expectRevision != 0),
// in which case it answers ErrStale. No row lock is held while change runs.
func optimistic[T any](expectRevision int64, read func() (T, error), revision func(*T) *int64,
	change func(*T) error, write func(row *T, readRevision int64) (bool, error)) (T, error) {
	var zero T
	for {
		row, err := read()
		if err != nil {
			return zero, err
		}
		rev := revision(&row)
		if expectRevision != 0 && *rev != expectRevision {
			return zero, ErrStale
		}
		readRevision := *rev
		if err := change(&row); err != nil {
			return zero, err
		}
		*revision(&row) = readRevision + 1
		written, err := write(&row, readRevision)
		if err != nil {
			return zero, err
		}
		if written {
			return row, nil
		}
		if expectRevision != 0 {
			return zero, ErrStale
		}
	}
}

// oneRow reports whether an UPDATE changed exactly its row.
func oneRow(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
