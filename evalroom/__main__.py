"""``python -m evalroom`` is the same as the ``evalroom`` command."""

from evalroom.cli import main

raise SystemExit(main())
