"""Every `triage` subcommand, one module each. Add a command by adding its module here."""

COMMANDS = []
