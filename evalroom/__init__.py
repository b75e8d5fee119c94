"""evalroom: remote cross-region bid evaluation (远程异地评标).

The coordinator service and the evaluation itself. Sub-packages:

- ``evalroom.domain``: plain-Python rules (roles, the event chain, later the session state machine,
  scoring and the draw). Imports only the standard library; never touches a database, a network or a clock.
- ``evalroom.storage``: SQLAlchemy models, Alembic migrations and the unit of work.
- ``evalroom.auth``: signing keys, access tokens, passwords.
- ``evalroom.api``: the FastAPI application (routes parse and authorise, then call ``evalroom.services``).
- ``evalroom.services``: handlers that hold the application logic between the API and storage.
- ``evalroom.cli``: the ``evalroom`` command.

Importing this package has no side effects and pulls in no heavy dependency.
"""

__version__ = "0.1.0"
