"""Instant checkers for the book's exercises, one module per chapter."""
