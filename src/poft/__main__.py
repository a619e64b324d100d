try:
    from poft.cli import entry
except KeyboardInterrupt:           # Ctrl-C while Python imports the command line
    import os
    import sys

    print("poft: interrupted", file=sys.stderr)
    os._exit(130)

entry()
