from poft.cli import entry

entry()
