"""Handlers: the application logic between the API routes (which parse and authorise) and storage.

Each write is one ``store.write()`` transaction that changes rows and records the matching events together.
"""
