"""``deskterm bench``: how long the analyst waits, on a desk of a million tickets.

Each operation is timed as a face calls it (``Desk.read``/``Desk.write`` with the desk
function the TUI uses), beside the same work written as raw SQL on the driver's own
connection (the lower bound), measured in the same run, sample by sample. The app's start
to its first painted queue and its peak memory are measured on the real ``deskterm``
process in a pseudo-terminal.

Nothing here is imported by the app: the bench is a face of its own, above the desk.
"""
