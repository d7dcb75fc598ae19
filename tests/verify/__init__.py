"""Tests of synthcam.verify (a package so that its helpers import relatively)."""
