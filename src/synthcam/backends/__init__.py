"""Generation backends: one interface (`base.Backend`), several implementations.

Adding a backend touches only this folder: write a module with a `Backend` subclass and
list it in `registry.py`.
"""
