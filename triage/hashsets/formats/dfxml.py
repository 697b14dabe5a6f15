"""Digital Forensics XML: the `<fileobject>`s that fiwalk, hashdeep/md5deep (`-d`) and hashdb's
DFXML exports write, each with its `filesize` and whole-file `<hashdigest type="MD5">` (SHA1,
SHA256...); one SetEntry per digest, the file's `filename` as its name.

Piecewise and block digests (`<byte_run file_offset=... len=...><hashdigest>`, what `md5deep
-p 4096 -d` writes and hashdb imports and exports as its block hashes) are MD5s of 512-byte or
4 KiB pieces. triage's block sets key a block by XXH3-64 and BLAKE2b-64 of its bytes, which no
MD5 of it can give, so those digests cannot make a block set: they are counted and said so in
one warning, never imported as whole-file digests.

The file is parsed as a stream (lxml iterparse: no DTD, no entity expansion, no network), each
fileobject released once read, so a large export is never held whole."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from ..problems import Problem, SourceError
from .base import Format, Item, register
from .fields import entries, signal_of

_ROOTS = (b"<dfxml", b"<fileobject", b"<md5deep", b"<hashdeep")


def _local(tag) -> str:
    from lxml import etree
    return etree.QName(tag).localname if isinstance(tag, str) else ""


@register
class DFXML(Format):
    name = "dfxml"
    priority = 15       # self-describing: an XML declaration and a dfxml root

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not body.startswith(b"<"):
            return False
        return any(root in head for root in _ROOTS)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        from lxml import etree   # loaded by an import of DFXML alone
        pieces = files = unhashed = 0
        try:
            events = etree.iterparse(str(path), events=("end",), resolve_entities=False,
                                     load_dtd=False, no_network=True, huge_tree=False,
                                     remove_comments=True, remove_pis=True)
            for _, el in events:
                if _local(el.tag) != "fileobject":
                    continue
                where = el.sourceline or ""
                found = _fileobject(el, where, signal)
                pieces += found.pieces
                files += bool(found.pieces)
                unhashed += found.unhashed
                yield from found.items
                el.clear(keep_tail=False)
                while el.getprevious() is not None:     # what was read stays out of memory
                    del el.getparent()[0]
        except etree.XMLSyntaxError as exc:
            line = exc.lineno or ""
            raise SourceError(line, f"not well-formed XML: {exc.msg}") from None
        if unhashed:
            yield "", Problem("", f"{unhashed:,} file object(s) without a whole-file digest "
                                  f"triage knows (MD5, SHA1, SHA256...): not imported",
                              code="unsupported", severity="warning")
        if pieces:
            yield "", Problem("", f"{pieces:,} piecewise (block) digests in {files:,} file "
                                  f"object(s) not imported: they are MD5s of pieces of the "
                                  f"files (md5deep -p, hashdb block hashes), and triage's "
                                  f"block sets key a 4 KiB block by XXH3-64 and BLAKE2b-64 of "
                                  f"its bytes, which an MD5 cannot give",
                              code="unsupported", severity="warning")


class _Found:
    def __init__(self):
        self.items = []
        self.pieces = 0
        self.unhashed = 0


def _fileobject(el, where, wanted: Optional[str]) -> _Found:
    found = _Found()
    values, size, name = {}, None, None
    for child in el:
        tag = _local(child.tag)
        if tag == "filename" and name is None:
            name = (child.text or "").strip() or None
        elif tag == "filesize":
            size = (child.text or "").strip()
        elif tag == "hashdigest":
            algorithm = signal_of(child.get("type") or "")
            if algorithm is None:
                continue      # a digest triage does not compute (tiger, sha3...)
            if algorithm in values:
                found.items.append((where, Problem(where, f"{algorithm} given twice")))
                continue
            values[algorithm] = (child.text or "").strip()
        elif tag in ("byte_runs", "byte_run"):    # md5deep -p writes its runs unwrapped
            found.pieces += sum(1 for d in child.iter() if _local(d.tag) == "hashdigest")
    if wanted is not None:
        values = {k: v for k, v in values.items() if k == wanted}
    if not values:
        found.unhashed += 1
        return found
    found.items.extend(entries(where, values, size=size or None, name=name))
    return found
