"""The apply machinery the planners share: the profile book (what a plan knows of the
profiles it touches), last-write-wins attribute writes, event rows, decided rows streamed to
the store, and merges (requested and by identity resolution)."""
