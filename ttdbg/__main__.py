"""`python -m ttdbg`: the same as the `ttdbg` command."""

import sys

from ttdbg.cli import main

sys.exit(main())
