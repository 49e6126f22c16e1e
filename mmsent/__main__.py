"""`python -m mmsent` runs the command-line interface."""

from mmsent.cli import main

raise SystemExit(main())
