import sys

from benchmarks.study.cli import main

sys.exit(main())
