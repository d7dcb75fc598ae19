"""Fixtures: the QA workspace (see qa_factory)."""

from gallery.qa_factory import qa_template, qa_ws  # noqa: F401
