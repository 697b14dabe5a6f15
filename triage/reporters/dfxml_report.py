"""report.dfxml: the hits as Digital Forensics XML 2.0.0-beta.0, valid against the DFXML schema.

triage's field names are DFXML's, so the mapping is direct: each evidence image is a
`<diskimageobject>` holding one `<volume>` per volume found (offset, byte run, block size,
ftype_str, and `<error>` when its file system could not be read), each hit a `<fileobject>` in
its volume (filename, partition, filesize, alloc, inode, times, hashdigest). A folder has no
volumes: its hits are top-level fileobjects. What DFXML has no element for lives in the
`tr:` namespace, where the schema allows foreign content: one `<tr:match>` per matched set
entry (with the entry's source `id` and stored `value`, never its name), the evidence item, the
case, the sets and the coverage counts. A match in a sealed set carries `sealed` and its
`false_positive_rate`.

A fragment (`--blocks`: blocks of a reference file found on the media) is a `<fileobject>`
marked `tr:finding="fragment"` in the volume swept (top level for a gap between volumes), as
DFXML describes carved data: its `<byte_runs>` are the runs found (`img_offset`, `len`; `fs_offset`
for offsets in the own bytes of a volume behind a decryption or LVM layer), its
filename, alloc and inode those of the file-system object that claims the first block (none
when nothing does), and `<tr:fragment>` names the reference file (`reference_md5`, never a
`hashdigest`: the runs are not that file), the set, category and blocks matched of the file's
total. What a `--sample` proved (`<tr:sampling>`) and the `--time-budget`
(`<tr:time_budget>`) are in the metadata, beside the scan and why it `stopped`.

File names are attacker-controlled. XML 1.0 cannot carry most C0 controls, lone surrogates or
U+FFFE/U+FFFF at all (lxml refuses them). A value holding one is written backslash-escaped
(`\\` for a backslash, `\\xHH` or `\\uHHHH` for the character), and its element says so in
`tr:escaped`: `text` for the element's text, and the names of escaped attributes as written
(`path`, `tr:evidence`), space-separated; `unescape` gives the original back. Characters that
disguise a name on screen (bidi overrides, zero-width marks) and C1 controls stay exact but are
written as character references, so the raw file shows `&#x202E;` instead of obeying it."""

from __future__ import annotations

import re

from .. import TOOL_NAME, __version__
from ..safetext import DISGUISING
from ..signals import get as signal_type
from ..signals.blocks import BLOCK
from . import register
from .coverage import budget_statement
from .model import hit_signals

DFXML_VERSION = "2.0.0-beta.0"
DFXML = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC = "http://purl.org/dc/elements/1.1/"
TR = "https://triage.invalid/ns/dfxml/1"
NSMAP = {None: DFXML, "dc": DC, "tr": TR}

# The digests DFXML's hashDigestType names; any other signal (pdq, phash...) is a tr:hash.
DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
TIMES = ("mtime", "ctime", "atime", "crtime")    # the order the fileobject sequence requires

_NOT_XML_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_NOT_XML = re.compile(f"[{_NOT_XML_CHARS}]")
# In an escaped value the backslash is escaped too, so that unescaping is exact.
_NEEDS_ESCAPE = re.compile(f"[\\\\{_NOT_XML_CHARS}]")
_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")
# Written as character references after serialising: never part of markup we write.
_SHOW = re.compile("[\x7f-\x9f]|" + DISGUISING.pattern)


def _escape_char(m) -> str:
    code = ord(m.group())
    return "\\\\" if m.group() == "\\" else f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def unescape(text: str) -> str:
    """The original of a value marked tr:escaped."""
    return _ESCAPED.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)),
                       text)


def _mark(el, what: str) -> None:
    marked = el.get(f"{{{TR}}}escaped")
    el.set(f"{{{TR}}}escaped", f"{marked} {what}" if marked else what)


def _text(el, value):
    text = str(value)
    if _NOT_XML.search(text):
        text = escape(text)
        _mark(el, "text")
    el.text = text
    return el


def _attrs(el, **values):
    """Set attributes, skipping None; `ns_` names go in the tr: namespace."""
    for name, value in values.items():
        if value is None:
            continue
        text = ("1" if value else "0") if isinstance(value, bool) else str(value)
        foreign = name.startswith("ns_")
        if _NOT_XML.search(text):
            text = escape(text)
            _mark(el, f"tr:{name[3:]}" if foreign else name)
        el.set(f"{{{TR}}}{name[3:]}" if foreign else name, text)
    return el


def _sub(parent, tag, text=None, ns=DFXML, **attrs):
    from lxml import etree
    el = _attrs(etree.SubElement(parent, f"{{{ns}}}{tag}"), **attrs)
    return el if text is None else _text(el, text)


@register("dfxml", "report.dfxml")
def render(report: dict) -> bytes:
    from lxml import etree   # loaded by a DFXML report alone
    root = etree.Element(f"{{{DFXML}}}dfxml", nsmap=NSMAP, version=DFXML_VERSION)
    _metadata(_sub(root, "metadata"), report)
    _creator(_sub(root, "creator"), report)
    source = _sub(root, "source")
    for ev in report["evidence"]:
        for name in ev["segments"] or [ev["path"]]:
            _sub(source, "image_filename", name)

    unplaced = {}   # (evidence, volume index) -> hits, until placed in their volume
    for hit in report["hits"]:
        unplaced.setdefault((hit["evidence"], (hit["volume"] or {}).get("index")), []).append(hit)
    fragments = {}  # the same for fragments
    for f in report.get("fragments") or []:
        fragments.setdefault((f["evidence"], (f["volume"] or {}).get("index")), []).append(f)
    for ev in report["evidence"]:
        if ev["container"] != "folder":
            _image(root, ev, report, unplaced, fragments)
    # A folder's hits have no volume; no hit is ever left out, even one whose volume is not
    # listed in its evidence.
    for hits in unplaced.values():
        for hit in hits:
            vol = hit["volume"] or {}
            _fileobject(root, hit, None, report, ns_evidence=hit["evidence"],
                        ns_volume_index=vol.get("index"), ns_volume_offset=vol.get("offset"))
    # Fragments in a gap between volumes (or in a volume not listed) are top-level, with
    # their evidence item.
    for found in fragments.values():
        for f in found:
            vol = f["volume"] or {}
            _fragment(root, f, None, ns_evidence=f["evidence"],
                      ns_volume_index=vol.get("index"), ns_volume_offset=vol.get("offset"))
    for severity in ("errors", "warnings"):
        for item in report[severity]:
            _problem(root, severity[:-1], item)

    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return _SHOW.sub(lambda m: f"&#x{ord(m.group()):04X};", xml.decode("utf-8")).encode("utf-8")


def _metadata(meta, report):
    _sub(meta, "type", "Hash hit report", ns=DC)
    case = report["case"]
    _sub(meta, "case", ns=TR, number=case["case_number"], examiner=case["examiner"],
         evidence=case["evidence_id"], notes=case["notes"])
    _sub(meta, "scan", ns=TR, started=report["started"], finished=report["finished"],
         complete=report["complete"], stopped=report.get("stopped"),
         report_format=report["format"], report_format_version=report["format_version"])
    sampling = report.get("sampling")
    if sampling:
        el = _sub(meta, "sampling", ns=TR, confidence=sampling["confidence"],
                  min_amount=sampling["min_amount"], clusters_read=sampling["clusters_read"],
                  clusters_total=sampling["clusters_total"], found=sampling["found"],
                  statement=sampling["statement"])
        for ev in sampling["evidence"]:
            _sub(el, "evidence", ns=TR, path=ev["evidence"], clusters_read=ev["clusters_read"],
                 clusters_total=ev["clusters_total"], found=ev["found"])
    budget = report.get("time_budget")
    if budget:
        _sub(meta, "time_budget", budget_statement(report), ns=TR, seconds=budget["seconds"],
             spent=budget["spent"], elapsed=budget["elapsed"])
    for hs in report["hashsets"]:
        el = _sub(meta, "hashset", ns=TR, name=hs["name"], version=hs["version"],
                  kind=hs["kind"], entries=hs["entries"],
                  signals=" ".join(hs["signals"]) or None)
        for src in hs["sources"]:
            _sub(el, "source", ns=TR, path=src["path"], format=src.get("format"),
                 sha256=src["sha256"])
    summary = {k: v for k, v in report["summary"].items() if k != "hits_by_category"}
    _sub(meta, "summary", ns=TR, **summary)


def _creator(creator, report):
    """The program that wrote the scan and what it ran on (recorded when the scan ran)."""
    _sub(creator, "program", report["tool"].get("name", TOOL_NAME))
    _sub(creator, "version", report["tool"].get("version", __version__))
    env = _sub(creator, "execution_environment")
    facts = report.get("environment") or {}
    for tag in ("os_sysname", "os_release", "os_version", "host", "arch"):
        if facts.get(tag):
            _sub(env, tag, facts[tag])
    if report["started"]:
        _sub(env, "start_time", report["started"])
    for lib in facts.get("libraries", []):
        _sub(creator, "library", name=lib["name"], version=lib["version"])


def _image(root, ev, report, unplaced, fragments):
    image = _sub(root, "diskimageobject")
    evidence = _sub(image, "evidence", ns=TR, path=ev["path"], container=ev["container"],
                    size=ev["size"], partition_table=ev["partition_table"],
                    scanned=ev["scanned"])
    for name in ev["segments"]:
        _sub(evidence, "segment", name, ns=TR)
    for algorithm, value in ev["stored_hashes"].items():
        _sub(evidence, "stored_hash", value, ns=TR, type=algorithm)
    for key, value in ev["metadata"].items():   # E01 header: typed in by whoever acquired it
        if value is not None:
            _sub(evidence, "ewf_header", value, ns=TR, name=key)
    for partition, vol in enumerate(ev["volumes"], start=1):
        volume = _sub(image, "volume", offset=vol["offset"], ns_index=vol["index"],
                      ns_description=vol["description"])
        _sub(_sub(volume, "byte_runs"), "byte_run", img_offset=vol["offset"], len=vol["length"])
        _sub(volume, "partition_offset", vol["offset"])
        if vol["block_size"]:
            _sub(volume, "block_size", vol["block_size"])
        if vol["fs_type"]:
            _sub(volume, "ftype_str", vol["fs_type"])
        for hit in unplaced.pop((ev["path"], vol["index"]), []):
            _fileobject(volume, hit, partition, report)
        for f in fragments.pop((ev["path"], vol["index"]), []):
            _fragment(volume, f, partition)
        if vol["error"]:
            _sub(volume, "error", vol["error"])
        _sub(volume, "counts", ns=TR, **vol["counts"])


def _fileobject(parent, hit, partition, report, **where):
    fo = _sub(parent, "fileobject", **where)
    _sub(fo, "filename", hit["path"])
    if partition is not None:
        _sub(fo, "partition", partition)
    _sub(fo, "filesize", hit["size"])
    _sub(fo, "alloc", "1" if hit["allocated"] else "0")
    if hit["inode"] is not None:
        _sub(fo, "inode", hit["inode"])
    for tag in TIMES:
        if hit.get(tag):
            _sub(fo, tag, hit[tag])
    signals = list(hit_signals(hit))
    for name in (s for s in signals if s in DIGESTS):
        _sub(fo, "hashdigest", hit[name], type=name)
    for name in (s for s in signals if s not in DIGESTS):
        _sub(fo, "hash", hit[name], ns=TR, signal=name)
    versions = {hs["name"]: hs["version"] for hs in report["hashsets"]}
    for m in hit["matches"]:
        _sub(fo, "match", ns=TR, kind=signal_type(m["signal"]).kind, signal=m["signal"],
             set=m["set"], set_version=versions.get(m["set"]), set_kind=m["kind"],
             category=m["category"], series=m["series"], id=m.get("id"),
             value=m.get("value"), distance=m["distance"], variant=m.get("variant"),
             quality=m.get("quality"), sealed=m.get("sealed"),
             false_positive_rate=m.get("false_positive_rate"))


def _fragment(parent, f, partition, **where):
    """A fragment as DFXML describes carved data: a fileobject of byte runs on the image."""
    fo = _sub(parent, "fileobject", ns_finding="fragment", **where)
    owner = f["owner"]
    if owner is not None:
        _sub(fo, "filename", owner["path"])
    if partition is not None:
        _sub(fo, "partition", partition)
    _sub(fo, "alloc", "1" if owner is not None and owner["allocated"] else "0")
    if owner is not None and owner["inode"] is not None:
        _sub(fo, "inode", owner["inode"])
    runs = _sub(fo, "byte_runs")
    # offsets in a volume's own bytes (behind a decryption or LVM layer) are where its file
    # system's bytes start: DFXML's fs_offset
    where_key = "fs_offset" if f.get("within") == "volume" else "img_offset"
    for run in f["runs"]:
        _sub(runs, "byte_run", **{where_key: run["offset"], "len": run["length"]})
    _sub(fo, "fragment", ns=TR, set=f["set"], category=f["category"],
         reference_md5=f["reference_md5"], blocks_matched=f["blocks_matched"],
         blocks_total=f["blocks_total"], block_size=BLOCK)


def _problem(root, severity, item):
    vol = item["volume"] or {}
    _sub(root, severity, item["reason"], ns=TR, evidence=item["evidence"],
         volume_index=vol.get("index"), volume_offset=vol.get("offset"), path=item["path"],
         inode=item["inode"])

