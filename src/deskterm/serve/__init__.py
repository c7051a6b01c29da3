"""Serving the app to analysts who are elsewhere (``deskterm serve ...``).

A face like the CLI and the TUI, but one that never draws a screen itself: each session runs
the real app as a process of its own, so this package never imports Textual.
"""
