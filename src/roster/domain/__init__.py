"""Pure rules of the domain: no I/O, no imports of the rest of Roster."""
