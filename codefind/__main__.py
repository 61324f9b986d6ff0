"""``python -m codefind`` is the same as the ``codefind`` command."""

from codefind.cli import main

raise SystemExit(main())
