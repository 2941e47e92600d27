"""``python -m benchmarks.report``: the arguments are parsed before any heavy import."""

import sys

from benchmarks.report import main

sys.exit(main())
