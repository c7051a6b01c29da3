"""Pure rules of the helpdesk: no I/O, no database, nothing of ours imported from above."""
