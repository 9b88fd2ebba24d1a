import sys

from metahub.cli import main

sys.exit(main())
