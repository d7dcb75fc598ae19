"""Gallery tests; a package so `gallery.qa_factory` always resolves here, whatever else is on sys.path."""
