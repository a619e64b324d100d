import sys

from poft.cli import main

sys.exit(main())
