"""The Textual terminal UI: one position drives every pane."""
