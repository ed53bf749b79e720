"""Internals of the message parser; the public entry point is `parsing.parser`."""
