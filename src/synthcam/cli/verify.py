"""`synthcam verify` (issue 3)."""
