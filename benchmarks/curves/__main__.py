import sys

from benchmarks.curves.cli import main

sys.exit(main())
