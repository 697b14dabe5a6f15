"""Every `triage` subcommand, one module each: name -> "module:attribute". A command's module
is imported only when that command runs, so `triage files` does not pay for numpy, faiss and
the imaging stack that `scan` and `hash` need. Add a command by adding its line here."""

COMMANDS = {
    "batch": "batch:batch",
    "files": "files:files",
    "inspect": "inspect:inspect",
    "scan": "scan:scan",
    "report": "report:report",
    "hash": "hash:hash_command",
    "hashset": "hashset:hashset",
    "keys": "keys:keys",
}
