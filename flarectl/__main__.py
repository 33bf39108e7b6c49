import sys

from flarectl.cli import main

sys.exit(main())
