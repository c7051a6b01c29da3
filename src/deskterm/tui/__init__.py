"""The analyst's terminal: a Textual app on the same desk use cases as the CLI."""
