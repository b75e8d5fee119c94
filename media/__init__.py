"""Media: WebRTC signaling, the embedded relay, hashed segment recording, the Janus backend, replay timelines.

Must never import ``evalroom``, ``sites`` or ``signing`` (docs/architecture.md). Inside this package aiortc's
camelCase is kept; callers see a snake_case interface.
"""
