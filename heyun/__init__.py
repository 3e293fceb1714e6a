"""Heyun shared kernel: config, database, events, outbox, reliable handlers, identity, errors."""
