"""Every `triage` subcommand, one module each. Add a command by adding its module here."""

from .files import files
from .hash import hash_command
from .hashset import hashset
from .inspect import inspect
from .report import report
from .scan import scan

COMMANDS = [files, inspect, scan, report, hash_command, hashset]
