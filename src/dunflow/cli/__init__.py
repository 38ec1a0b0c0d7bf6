"""The command line: thin commands over the services, errors printed as `file:line: message`."""
from dunflow.cli.main import main

__all__ = ["main"]
