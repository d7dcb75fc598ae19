"""`synthcam render` (issue 4)."""
