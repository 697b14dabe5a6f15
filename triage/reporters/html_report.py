"""report.html: one self-contained page an examiner can open anywhere: no scripts, no external
assets, no images of any kind. Every name is attacker-controlled text: escaped, with control and
bidi-override characters shown as visible codes."""

from __future__ import annotations

import html

from ..safetext import visible
from ..verdict import category_title, of_report
from . import register

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,monospace;font-size:.92em;word-break:break-all}
.verdict{padding:1em;font-size:1.3em;font-weight:bold;border-radius:4px}
.hits{background:#fde2e2;border:2px solid #b00020}.clean{background:#e3f5e1;border:2px solid #2e7d32}
.partial{background:#fff4d6;border:2px solid #a66b00}
.detail{font-size:.8em;font-weight:normal;margin-top:.4em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
"""


def esc(value) -> str:
    if value is None:
        return "&ndash;"
    return html.escape(visible(str(value)), quote=True)


def _table(headers, rows, numeric=()):
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            cells.append(f"<td{cls}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _verdict(report) -> str:
    s = report["summary"]
    verdict = of_report(report)
    cats = ", ".join(f"{esc(category_title(k, report['hashsets']))}: {v}"
                     for k, v in s["hits_by_category"].items())
    lines = [esc(verdict.headline) + (f" ({cats})" if cats else "")]
    lines += [f'<div class="detail">{esc(d)}</div>' for d in verdict.details]
    return f'<div class="verdict {verdict.tone}">{"".join(lines)}</div>'


def _coverage(report) -> str:
    s = report["summary"]
    rows = [("Files seen", s["files_seen"]), ("Files hashed", s["files_hashed"]),
            ("Files not read (no set could match their size)", s["files_skipped"]),
            ("Known-good files (ignored)", s["files_known"]),
            ("Images decoded for perceptual matching", s["images_decoded"]),
            ("Bytes read", f"{s['bytes_read']:,}"), ("Unreadable items", s["errors"]),
            ("Warnings", s["warnings"])]
    return _table(["", "count"], [(esc(k), esc(v)) for k, v in rows], numeric=(1,))


def _hits(report) -> str:
    rows = []
    for hit in report["hits"]:
        vol = hit.get("volume") or {}
        matches = "<br>".join(
            esc(f"{m['signal']} in {m['set']} ({m['kind']}): {m.get('category') or '-'}"
                + (f", series {m['series']}" if m.get("series") else "")
                + (f", distance {m['distance']}" if m["distance"] else "")
                + (f", variant {m['variant']}" if m.get("variant") else ""))
            for m in hit["matches"])
        rows.append((
            f"<code>{esc(hit['path'])}</code>", esc(hit["evidence"]),
            esc(vol.get("index")), esc(hit.get("inode")),
            "allocated" if hit["allocated"] else "deleted", esc(f"{hit['size']:,}"),
            esc(hit.get("mtime")),
            f"<code>md5 {esc(hit.get('md5'))}<br>sha1 {esc(hit.get('sha1'))}<br>"
            f"sha256 {esc(hit.get('sha256'))}</code>",
            matches))
    return _table(["Path", "Evidence", "Volume", "Inode", "State", "Size", "Modified",
                   "Hashes", "Matched"], rows, numeric=(5,))


def _problems(items) -> str:
    rows = [(esc(e.get("evidence")), esc((e.get("volume") or {}).get("index")),
             f"<code>{esc(e.get('path'))}</code>", esc(e.get("inode")), esc(e.get("reason")))
            for e in items]
    return _table(["Evidence", "Volume", "Path", "Inode", "Reason"], rows)


def _evidence(report) -> str:
    parts = []
    for ev in report["evidence"]:
        meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in ev["metadata"].items())
        hashes = "".join(f"<dt>stored {esc(k)}</dt><dd><code>{esc(v)}</code></dd>"
                         for k, v in ev["stored_hashes"].items())
        parts.append(
            f"<h3><code>{esc(ev['path'])}</code></h3><dl><dt>container</dt>"
            f"<dd>{esc(ev['container'])}</dd><dt>size</dt><dd>{esc(ev['size'])}</dd>"
            f"<dt>segments</dt><dd>{len(ev['segments'])}</dd><dt>partition table</dt>"
            f"<dd>{esc(ev['partition_table'])}</dd>{meta}{hashes}</dl>")
        rows = [(esc(v["index"]), esc(v["offset"]), esc(v["fs_type"] or "unreadable"),
                 esc(v["counts"]["files_seen"]), esc(v["counts"]["hit"]), esc(v["error"]))
                for v in ev["volumes"]]
        if rows:
            parts.append(_table(["Volume", "Offset", "File system", "Files seen", "Hits",
                                 "Problem"], rows, numeric=(1, 3, 4)))
    return "".join(parts)


def _hashsets(report) -> str:
    rows = []
    for hs in report["hashsets"]:
        signals = ", ".join(f"{k}: {v:,}" for k, v in hs.get("signals", {}).items())
        unmatchable = hs.get("unmatchable_signals") or []
        note = f" (cannot be computed here: {', '.join(unmatchable)})" if unmatchable else ""
        sources = "<br>".join(f"<code>{esc(s.get('sha256'))}</code> {esc(s.get('path'))}"
                              for s in hs.get("sources", []))
        rows.append((esc(hs.get("name")), esc(hs.get("version")), esc(hs.get("kind")),
                     esc(f"{hs.get('entries', 0):,}"), esc(signals + note), sources))
    return _table(["Set", "Version", "Kind", "Entries", "Signals", "Source (SHA-256)"], rows,
                  numeric=(3,))


@register("html", "report.html")
def render(report: dict) -> bytes:
    case = report["case"]
    case_dl = "".join(f"<dt>{esc(k.replace('_', ' '))}</dt><dd>{esc(v)}</dd>"
                      for k, v in case.items())
    tool = report.get("tool", {})
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>triage report {esc(case.get('case_number') or '')}</title><style>{CSS}</style></head>
<body>
<h1>triage hit report</h1>
{_verdict(report)}
<p>This report lists metadata and hashes only. It contains no images, thumbnails or file
content.</p>
<h2>Case</h2><dl>{case_dl}<dt>started</dt><dd>{esc(report['started'])}</dd>
<dt>finished</dt><dd>{esc(report['finished'])}</dd><dt>complete</dt>
<dd>{'yes' if report['complete'] else 'no (interrupted)'}</dd><dt>tool</dt>
<dd>{esc(tool.get('name'))} {esc(tool.get('version'))}</dd></dl>
<h2>Hits by category</h2>
{_table(["Category", "Files"], [(esc(k), esc(v)) for k, v in
                                 report['summary']['hits_by_category'].items()], numeric=(1,))}
<h2>Coverage</h2>{_coverage(report)}
<h2>Hits ({len(report['hits'])})</h2>{_hits(report)}
<h2>Unreadable ({len(report['errors'])})</h2>{_problems(report['errors'])}
<h2>Warnings ({len(report['warnings'])})</h2>{_problems(report['warnings'])}
<h2>Hash sets</h2>{_hashsets(report)}
<h2>Evidence</h2>{_evidence(report)}
</body></html>
"""
    return page.encode("utf-8")
