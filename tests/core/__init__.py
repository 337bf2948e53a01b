"""Unit tests of the pure core (`core/`)."""
