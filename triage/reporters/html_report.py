"""report.html: one self-contained page an examiner can open anywhere or print: no scripts, no
external assets, no images of any kind. Every name is attacker-controlled text: escaped, with
control and bidi-override characters shown as visible codes.

The verdict comes first (triage.verdict decides its words, as it does the terminal's), then
the case, hits grouped by evidence item, what could not be read, the sets and the evidence with
its volumes and whether its media was verified. Print CSS keeps a hit's rows on one page."""

from __future__ import annotations

import html
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..safetext import visible
from ..signals import get as signal_type
from ..verdict import category_title, of_report
from . import register
from .model import hit_signals

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.4em}
h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1.2em 0 .3em}
table{border-collapse:collapse;width:100%;margin:.4em 0}
table.compact{width:auto;min-width:45%}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td.num{white-space:nowrap}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;
word-break:break-all}
.verdict{padding:.8em 1em;font-size:1.25em;font-weight:bold;border-radius:4px}
.hits{background:#fde2e2;border:2px solid #b00020}
.clean{background:#e3f5e1;border:2px solid #2e7d32}
.partial{background:#fff4d6;border:2px solid #a66b00}
.verdict ul{margin:.3em 0 0;padding-left:1.4em;font-size:.8em}
.detail{font-size:.8em;font-weight:normal;margin-top:.4em}
.lead{color:#555}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1.2em;margin:.4em 0}
dt{font-weight:600}dd{margin:0}
tr.group th{background:none;border:0;padding:1.1em 0 .35em;font-weight:normal}
.where{font-weight:600}.evidence-line{color:#444}
table.hitlist{table-layout:fixed}table.hitlist tbody{border-top:2px solid #bbb}
col.w37{width:37%}col.w23{width:23%}col.w11{width:11%}col.w9{width:9%}
table.hitlist td.more{background:#fafafa;border-top:0}
.more-grid{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:.2em 1.5em}
.match{margin-bottom:.35em}.match:last-child{margin-bottom:0}
.cat{font-weight:600}
.muted{color:#666}
.warn{color:#8a4b00;font-weight:600}.bad{color:#b00020;font-weight:600}.ok{color:#2e7d32}
footer{margin-top:2em;color:#666;font-size:.85em;border-top:1px solid #ccc;padding-top:.4em}
@page{size:A4;margin:14mm 12mm}
@media print{
 body{font-size:9.5pt;max-width:none;margin:0;padding:0}
 h2,h3,.lead{break-after:avoid}
 tr,.verdict,dl,.match{break-inside:avoid}
 table.hitlist tbody{break-inside:avoid}
 thead{display:table-header-group}
 .verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

# Container kinds and partition tables as a reader knows them.
CONTAINERS = {"ewf": "EnCase image (E01)", "raw": "raw image", "split-raw": "split raw image",
              "device": "device", "folder": "folder"}
TABLES = {"dos": "MBR (DOS)", "gpt": "GPT", "mac": "Apple partition map", "bsd": "BSD disklabel",
          "sun": "Sun VTOC"}
# E01 header fields (what whoever acquired the image typed in), in a readable order.
EWF_LABELS = {"case_number": "Case number", "evidence_number": "Evidence number",
              "description": "Description", "examiner": "Examiner", "notes": "Notes",
              "acquisition_date": "Acquired", "system_date": "System date at acquisition",
              "acquisition_os": "Acquisition OS",
              "acquisition_software": "Acquisition software",
              "acquisition_software_version": "Acquisition software version",
              "model": "Drive model", "serial_number": "Drive serial number",
              "device_label": "Device label"}
CASE_LABELS = {"case_number": "Case number", "examiner": "Examiner",
               "evidence_id": "Evidence ID", "notes": "Notes"}
VERIFY_HINT = "not verified in this scan: run `triage inspect --verify` on it"


def esc(value) -> str:
    if value is None:
        return "&ndash;"
    return html.escape(visible(str(value)), quote=True)


def number(n) -> str:
    return "&ndash;" if n is None else f"{n:,}"


def size_text(n: Optional[int]) -> str:
    """Bytes with separators, and in MB/GB/TB (decimal, as the terminal says) when large."""
    if n is None:
        return "&ndash;"
    text = f"{n:,} bytes"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{text} ({n / scale:,.1f} {unit})"
    return text


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _thead(headers: Sequence[str], numeric, title: str = "") -> str:
    """The column headers, under a `title` row when given: a table's head repeats on every
    printed page it runs over, so a group's title (its evidence item) does too."""
    cells = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>'
                    for i, h in enumerate(headers))
    group = f'<tr class="group"><th colspan="{len(headers)}">{title}</th></tr>' if title else ""
    return f"<thead>{group}<tr>{cells}</tr></thead>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric=(),
           cls: str = "", title: str = "") -> str:
    numeric = set(numeric)
    body = ["<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{cell}</td>'
                             for i, cell in enumerate(row)) + "</tr>" for row in rows]
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    klass = f' class="{cls}"' if cls else ""
    return (f"<table{klass}>{_thead(headers, numeric, title)}<tbody>{''.join(body)}</tbody>"
            f"</table>")


def _dl(pairs: Iterable[Tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _by_evidence(items: Iterable[dict], report) -> List[Tuple[Optional[str], List[dict]]]:
    """Items grouped by their evidence, in the report's evidence order (others after)."""
    order = {ev["path"]: i for i, ev in enumerate(report["evidence"])}
    groups: Dict[Optional[str], List[dict]] = {}
    for item in items:
        groups.setdefault(item.get("evidence"), []).append(item)
    return sorted(groups.items(), key=lambda g: (g[0] not in order, order.get(g[0], 0),
                                                 g[0] or ""))


def _verdict(report) -> str:
    s = report["summary"]
    verdict = of_report(report)
    cats = [f"<li>{esc(category_title(k, report['hashsets']))}: {plural(v, 'file')}</li>"
            for k, v in s["hits_by_category"].items()]
    details = "".join(f'<div class="detail">{esc(d)}</div>' for d in verdict.details)
    listed = f"<ul>{''.join(cats)}</ul>" if cats else ""
    return f'<div class="verdict {verdict.tone}">{esc(verdict.headline)}{listed}{details}</div>'


def _case(report) -> str:
    tool = report.get("tool", {})
    pairs = [(CASE_LABELS.get(k, k), esc(v)) for k, v in report["case"].items()]
    pairs += [("Scan started", esc(report["started"])), ("Scan finished", esc(report["finished"])),
              ("Complete", "yes" if report["complete"] else
               f'<span class="bad">no: {esc(report.get("stopped") or "interrupted")}, only part '
               f'of the evidence was scanned</span>'),
              ("Tool", f"{esc(tool.get('name'))} {esc(tool.get('version'))}")]
    return _dl(pairs)


def _coverage(report) -> str:
    s = report["summary"]
    rows = [("Files seen", number(s["files_seen"])), ("Files hashed", number(s["files_hashed"])),
            ("Files cleared by their first and last 4 KiB (a sub-file fingerprint no set lists)",
             number(s["files_screened"])),
            ("Files passed over (no set could match their size or type)",
             number(s["files_skipped"])),
            ("Known-good files (ignored)", number(s["files_known"])),
            ("Images decoded for perceptual matching", number(s["images_decoded"])),
            ("Videos decoded for frame matching", number(s["videos_decoded"])),
            ("Read", size_text(s["bytes_read"])), ("Unreadable items", number(s["errors"])),
            ("Warnings", number(s["warnings"]))]
    return _table(["What", "Count"], [(esc(k), v) for k, v in rows], numeric=(1,),
                  cls="compact")


def _verification(ev: dict) -> str:
    """Whether the media's stored hashes were checked in this scan, as HTML."""
    checked = (ev.get("verification") or {}).get("hashes")
    if checked:
        words = []
        for name, h in checked.items():
            if h.get("match") is True:
                words.append(f'<span class="ok">{esc(name.upper())} matches the stored hash</span>')
            elif h.get("match") is False:
                words.append(f'<span class="bad">{esc(name.upper())} DOES NOT MATCH the stored '
                             f'hash (computed <code>{esc(h.get("computed"))}</code>)</span>')
            else:
                words.append(f"{esc(name.upper())} computed, no stored hash to compare")
        return "verified in this scan: " + "; ".join(words)
    if ev["stored_hashes"]:
        return f'<span class="warn">{esc(VERIFY_HINT)}</span>'
    return '<span class="muted">no stored hashes to verify against</span>'


def _volume_names(report) -> Dict[Tuple[str, int], str]:
    return {(ev["path"], v["index"]): f"{v['index']} ({v['fs_type'] or 'unreadable'})"
            for ev in report["evidence"] for v in ev["volumes"]}


def _evidence_line(ev: Optional[dict]) -> str:
    if ev is None:
        return ""
    parts = [esc(CONTAINERS.get(ev["container"], ev["container"]))]
    if ev["size"] is not None:
        parts.append(size_text(ev["size"]))
    if ev["container"] != "folder":
        parts.append("media " + _verification(ev))
    return f'<br><span class="evidence-line">{" &middot; ".join(parts)}</span>'


def _grouped(items, report, noun: str, table: Callable[[List[dict], str], str]) -> str:
    """One table per evidence item, its title (the item, how many, what it is) in the table's
    head, so a printed page that continues the table names the item again."""
    evidence = {ev["path"]: ev for ev in report["evidence"]}
    if not items:
        return "<p>none</p>"
    parts = []
    for path, group in _by_evidence(items, report):
        where = (f"<code>{esc(path)}</code>" if path is not None
                 else "not tied to an evidence item")
        title = (f'<span class="where">{where} ({plural(len(group), noun)})</span>'
                 f"{_evidence_line(evidence.get(path))}")
        parts.append(table(group, title))
    return "".join(parts)


def _times(ranges) -> str:
    return ", ".join(f"{a:g}-{b:g}" for a, b in ranges) or "-"


def _match_lines(hit: dict, hashsets) -> str:
    """A hit's matches: exact ones of one set entry on one line (md5, sha1), each perceptual
    one with the stored value it is near and its distance."""
    lines, exact = [], {}
    for m in hit["matches"]:
        what = (m["set"], m["kind"], m["category"], m["series"], m.get("id"))
        if signal_type(m["signal"]).kind == "exact":
            exact.setdefault(what + (m.get("false_positive_rate"),), []).append(m["signal"])
            continue
        how = f"{esc(m['signal'])} distance {m['distance']}"
        if m.get("variant") and m["variant"] != "original":
            how += f" (the file's {esc(m['variant'])} variant)"
        if m.get("query_match_percent") is not None:   # a video: vPDQ's shares and times
            lines.append((what, f"{how} (median of the matched frames): "
                                f"{m['query_match_percent']:g} % of this video's frames, "
                                f"{m['reference_match_percent']:g} % of the reference's; "
                                f"at {_times(m['ranges']['query'])} s here, "
                                f"{_times(m['ranges']['reference'])} s in the reference"
                                f"<br><code>{esc(m.get('value'))}</code>"))
            continue
        lines.append((what, f"{how} from the set's value<br><code>{esc(m.get('value'))}</code>"))
    for (*what, rate), sigs in exact.items():
        how = (f"{esc(', '.join(sigs))} exact (same digest)" if rate is None else
               f"{esc(', '.join(sigs))} in the sealed set (keyed fingerprint, false-positive "
               f"rate {rate:.2g}: confirm with the unsealed set)")
        lines.insert(0, (tuple(what), how))
    out = []
    for (name, kind, category, series, ident), how in lines:
        cat = (esc(category_title(category, hashsets)) if category else "no category")
        about = [f"set <b>{esc(name)}</b>" + ("" if kind == "alert" else f" ({esc(kind)})")]
        if ident:
            about.append(f"entry ID {esc(ident)}")
        if series:
            about.append(f"series {esc(series)}")
        out.append(f'<div class="match"><span class="cat">{cat}</span><br>'
                   f'{", ".join(about)}<br>{how}</div>')
    return "".join(out)


def _exact_first(item) -> tuple:
    return signal_type(item[0]).kind != "exact", item[0]


def _hit_table(hits: List[dict], report, title: str) -> str:
    volumes = _volume_names(report)
    bodies = []
    for hit in hits:
        vol = hit.get("volume")
        where = (esc(volumes.get((hit["evidence"], vol["index"]), vol["index"]))
                 if vol else "&ndash;")
        state = "allocated" if hit["allocated"] else '<span class="warn">deleted</span>'
        if hit.get("realloc"):
            state = '<span class="warn">deleted name, inode reallocated</span>'
        also = "".join(f'<br><span class="muted">also named</span> <code>{esc(n["path"])}</code>'
                       f'{_name_state(n)}' for n in hit.get("other_names", []))
        if hit.get("container_path") is not None:   # a child entry: what it is, where it is
            also += (f'<br><span class="muted">{esc(hit.get("note") or "member")} in</span> '
                     f'<code>{esc(hit["container_path"])}</code>')
        if hit.get("backup_path") is not None:   # stored in an iOS backup under another name
            also += (f'<br><span class="muted">in an iOS backup as</span> '
                     f'<code>{esc(hit["backup_path"])}</code>')
        hashes = "<br>".join(f'<span class="muted">{esc(k)}</span> <code>{esc(v)}</code>'
                             for k, v in sorted(hit_signals(hit).items(), key=_exact_first))
        bodies.append(
            f"<tbody><tr><td><code>{esc(hit['path'])}</code>{also}</td><td>{where}</td>"
            f"<td class=num>{esc(hit.get('inode'))}</td><td>{state}</td>"
            f"<td class=num>{number(hit['size'])}</td><td>{esc(hit.get('mtime'))}</td></tr>"
            f'<tr><td class="more" colspan="6"><div class="more-grid"><div>{hashes}</div>'
            f"<div>{_match_lines(hit, report['hashsets'])}</div></div></td></tr></tbody>")
    cols = "".join(f'<col class="w{width}">' for _, width in HIT_COLUMNS)
    head = _thead([name for name, _ in HIT_COLUMNS], {2, 4}, title)
    return f'<table class="hitlist"><colgroup>{cols}</colgroup>{head}{"".join(bodies)}</table>'


def _name_state(name: dict) -> str:
    if name["realloc"]:
        return ' <span class="muted">(deleted; its inode now holds this file)</span>'
    return "" if name["allocated"] else ' <span class="muted">(deleted)</span>'


# With their widths in % (CSS classes w37...), fixed so that the hit tables of every evidence
# item line up.
HIT_COLUMNS = (("Path", 37), ("Volume", 11), ("Inode", 9), ("State", 9), ("Size (bytes)", 11),
               ("Modified (UTC)", 23))


def _problem_table(items: List[dict], report, title: str) -> str:
    volumes = _volume_names(report)
    rows = [(esc(volumes.get((e.get("evidence"), (e.get("volume") or {}).get("index")),
                             (e.get("volume") or {}).get("index"))),
             f"<code>{esc(e.get('path'))}</code>", esc(e.get("inode")), esc(e.get("reason")))
            for e in items]
    return _table(["Volume", "Path", "Inode", "Reason"], rows, numeric=(2,), title=title)


def _hashsets(report) -> str:
    rows = []
    for hs in report["hashsets"]:
        signals = ", ".join(f"{k}: {v:,}" for k, v in hs.get("signals", {}).items())
        unmatchable = hs.get("unmatchable_signals") or []
        note = f" (cannot be computed here: {', '.join(unmatchable)})" if unmatchable else ""
        categories = "<br>".join(f"{esc(category_title(k, [hs]))}: {number(v)}"
                                 for k, v in (hs.get("categories") or {}).items())
        sources = "<br>".join(f"{esc(s.get('path'))}<br><code>{esc(s.get('sha256'))}</code>"
                              for s in hs.get("sources", []))
        form = []
        if hs.get("sealed"):
            form.append(f"sealed: keyed fingerprints, false-positive rate "
                        f"{hs['sealed']['false_positive_rate']:.2g}")
        if hs.get("signer"):
            form.append(f"signed by <code>{esc(hs['signer'])}</code>")
        name = esc(hs.get("name")) + "".join(f'<br><span class="muted">{f}</span>' for f in form)
        rows.append((name, esc(hs.get("version")), esc(hs.get("kind")),
                     number(hs.get("entries", 0)), esc(signals + note), categories, sources))
    return _table(["Set", "Version", "Kind", "Entries", "Distinct values", "Categories",
                   "Source (SHA-256)"], rows, numeric=(3,))


def _evidence(report) -> str:
    parts = []
    for number_, ev in enumerate(report["evidence"], start=1):
        pairs = [("Container", esc(CONTAINERS.get(ev["container"], ev["container"]))),
                 ("Media size", size_text(ev["size"]))]
        if len(ev["segments"]) > 1:
            pairs.append(("Segments", f"{len(ev['segments'])}: <code>{esc(ev['segments'][0])}"
                                      f"</code> &hellip; <code>{esc(ev['segments'][-1])}</code>"))
        if ev["container"] != "folder":
            table = ev["partition_table"]
            pairs.append(("Partition table", esc(TABLES.get(table, table)) if table else "none"))
        pairs += [(f"Stored {k.upper()}", f"<code>{esc(v)}</code>")
                  for k, v in ev["stored_hashes"].items()]
        pairs.append(("Media verified", _verification(ev)))
        pairs.append(("Scanned", "yes" if ev.get("scanned") else
                      '<span class="bad">no: the scan stopped before this item was finished'
                      '</span>'))
        parts.append(f"<h3>{number_}. <code>{esc(ev['path'])}</code></h3>{_dl(pairs)}")
        header = [(EWF_LABELS.get(k, k.replace("_", " ").capitalize()), esc(v))
                  for k, v in ev["metadata"].items() if v is not None]
        if header:
            parts.append('<p class="lead">Acquisition details from the E01 header, as typed '
                         'by whoever acquired the image:</p>' + _dl(header))
        rows = [(esc(v["index"]), esc(v["description"]),
                 esc(v["fs_type"]) if v["fs_type"] else
                 f'<span class="bad">unreadable</span>: {esc(v["error"])}',
                 number(v["offset"]), number(v["length"]), number(v["block_size"]),
                 number(v["counts"]["files_seen"]), number(v["counts"]["hit"]),
                 number(v["counts"]["known"]), number(v["counts"]["skipped"]),
                 number(v["counts"]["error"]))
                for v in ev["volumes"]]
        if rows:
            parts.append(_table(["Volume", "Partition", "File system", "Offset (bytes)",
                                 "Length (bytes)", "Block size", "Files seen", "Hits",
                                 "Known-good", "Passed over", "Unreadable"], rows,
                                numeric=range(3, 11)))
        elif "counts" in ev:
            c = ev["counts"]
            parts.append(_dl([("Files seen", number(c["files_seen"])),
                              ("Hits", number(c["hit"])), ("Known-good", number(c["known"])),
                              ("Passed over", number(c["skipped"])),
                              ("Unreadable", number(c["error"]))]))
    return "".join(parts)


def _fragments(report) -> str:
    """`--blocks`: known files found by their blocks on the media, where, and who claims them."""
    fragments = report.get("fragments") or []
    if not fragments:
        return ""
    rows = []
    for f in fragments:
        owner = f["owner"]
        rows.append([
            esc(f["reference_md5"]), esc(f["set"]),
            esc(category_title(f["category"], report["hashsets"]) if f["category"] else "-"),
            f"{number(f['blocks_matched'])} of {number(f['blocks_total'])}",
            "<br>".join(f"{number(r['offset'])} +{size_text(r['length'])}" for r in f["runs"])
            + (" (in the volume's own bytes)" if f.get("within") == "volume" else ""),
            "unallocated space" if owner is None else
            f"{esc(owner['path'])} (inode {esc(owner['inode'])}, "
            f"{'allocated' if owner['allocated'] else 'deleted'})"])
    table = _table(["Reference MD5", "Set", "Category", "4 KiB blocks found", "Runs (bytes from the media's start)",
                    "Claimed by"], rows, numeric=(3,))
    return f'<section id="fragments"><h2>Fragments ({len(fragments):,})</h2>{table}</section>'


@register("html", "report.html")
def render(report: dict) -> bytes:
    case = report["case"]
    tool = report.get("tool", {})
    hits, errors, warnings = report["hits"], report["errors"], report["warnings"]
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>triage report {esc(case.get('case_number') or '')}</title><style>{CSS}</style></head>
<body>
<h1>triage hit report</h1>
{_verdict(report)}
<p class="lead">This report lists metadata and hashes only. It contains no images, thumbnails or
file content.</p>
<section id="case"><h2>Case</h2>{_case(report)}</section>
<section id="categories"><h2>Hits by category</h2>
{_table(["Category", "Files"], [(esc(category_title(k, report['hashsets'])), number(v))
                                 for k, v in report['summary']['hits_by_category'].items()],
        numeric=(1,), cls="compact")}</section>
<section id="coverage"><h2>Coverage</h2>{_coverage(report)}</section>
<section id="hits"><h2>Hits ({len(hits):,})</h2>
{_grouped(hits, report, "hit", lambda g, t: _hit_table(g, report, t))}</section>
{_fragments(report)}
<section id="errors"><h2>Unreadable ({len(errors):,})</h2>
{_grouped(errors, report, "item", lambda g, t: _problem_table(g, report, t))}</section>
<section id="warnings"><h2>Warnings ({len(warnings):,})</h2>
{_grouped(warnings, report, "warning", lambda g, t: _problem_table(g, report, t))}</section>
<section id="hashsets"><h2>Hash sets</h2>{_hashsets(report)}</section>
<section id="evidence"><h2>Evidence</h2>{_evidence(report)}</section>
<footer>{esc(tool.get('name'))} {esc(tool.get('version'))} &middot; report format
{esc(report.get('format_version'))} &middot; rendered from the scan's results database</footer>
</body></html>
"""
    return page.encode("utf-8")
