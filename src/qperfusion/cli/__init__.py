"""Thin click commands: each parses its options, calls the library and says where results are."""
