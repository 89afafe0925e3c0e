"""Interactive explorers for the book, one module per chapter."""
