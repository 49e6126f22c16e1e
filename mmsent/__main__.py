"""`python -m mmsent` runs the command-line interface."""

from mmsent.cli.main import main

raise SystemExit(main())
