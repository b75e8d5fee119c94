"""The domain core: plain Python, standard library only (plus ``signing.canonical``, itself pure).

Nothing here opens a database or a socket or reads a clock; callers pass in the time. Tests of this package
need no fixtures beyond values.
"""
