"""Fixtures: the QA workspace (see tests/gallery/qa_factory.py)."""

from gallery.qa_factory import qa_template, qa_ws  # noqa: F401
