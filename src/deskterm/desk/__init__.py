"""Use cases: the only code that changes data. One function per user action."""
