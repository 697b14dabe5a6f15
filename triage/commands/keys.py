"""`triage keys`: make an Ed25519 signing key, and name a key by its fingerprint."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_CLEAN
from ..jsonout import dumps
from ..safetext import path_text
from .. import signing
from .options import PathArg


@click.group()
def keys():
    """Signing keys for hash sets (`hashset sign`, `scan --trust`) and reports (`scan --sign`,
    `report verify --trust`)."""


@keys.command()
@click.option("-o", "--output", "name", required=True, type=PathArg(path_type=Path),
              help="Writes NAME.key (private, passphrase-protected) and NAME.pub (public).")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object on stdout: {"private", "public", "fingerprint"}.')
def new(name, as_json):
    """Make a new Ed25519 key pair. The passphrase (8 characters or more) is asked twice on
    the terminal, or read from TRIAGE_KEY_PASSPHRASE. Give NAME.pub to whoever checks what
    you sign; keep NAME.key. Exit codes: 0 written; 2 a file is in the way or cannot be
    written, or no passphrase."""
    passphrase = signing.read_passphrase(name.with_name(name.name + ".key"), confirm=True)
    private, public, who = signing.new_key(name, passphrase)
    if as_json:
        click.echo(dumps({"private": str(private), "public": str(public), "fingerprint": who},
                         indent=2))
        return EXIT_CLEAN
    click.echo(f"{path_text(str(private))}: private key (keep it; it cannot be recovered "
               f"without its passphrase)")
    click.echo(f"{path_text(str(public))}: public key {who}")
    return EXIT_CLEAN


@keys.command()
@click.argument("key_file", type=PathArg(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object on stdout: {"key", "fingerprint"}.')
def fingerprint(key_file, as_json):
    """Print the fingerprint of a public key (NAME.pub): the one `hashset info`, `report
    verify` and `ssh-keygen -lf NAME.pub` show. Exit codes: 0 shown; 2 not a public key."""
    who = signing.fingerprint(signing.load_public(key_file))
    click.echo(dumps({"key": str(key_file), "fingerprint": who}, indent=2) if as_json else who)
    return EXIT_CLEAN
