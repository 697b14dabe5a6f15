"""report.jsonld: the scan as a CASE 1.5.0 / UCO 1.5.0 JSON-LD graph, for case-management and
exchange tools that speak CASE.

The graph: the tool and the examiner; each evidence item as a File (a Directory for a folder)
with its media size and the hashes stored at acquisition, and for an E01 an Annotation holding
its header fields; each volume as a DiskPartition Contained_Within its evidence; each hit as a
File with its path, size, allocation, times and hashes, Contained_Within its evidence and its
partition, with an Annotation stating every set entry it matched; provenance records for the
evidence as received (the case's evidence id as exhibit number) and for the hits; the scan's
InvestigativeAction, whose instrument is the tool configured with every hash-set source file and
its SHA-256; and the Investigation (the case number) it belongs to.

A fragment (`--blocks`) is, per run found, an ObservableObject with a DataRangeFacet (offset
and size in bytes from the start of the image: rangeOffsetType "image"; "volume" for offsets in
the own bytes of a volume behind a decryption or LVM layer), Contained_Within its
evidence and partition, and an Annotation stating the reference file's MD5, the set, category,
blocks matched of the total and the object that claims the blocks. What a `--sample` proved,
the `--time-budget` and why a scan stopped are in the action's description; a match in a
sealed set states its design false-positive rate.

Every @id is a uuid5 of what the node describes, in a namespace derived from the scan's identity
(start time, case, evidence), so the same scan always gives the same graph and two scans never
share a node by accident.

CASE has a term for a file's inode only on ext (extInodeID) and NTFS (entryID); on any other
file system, and in a folder, it is carried as `triage:inode`."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from ..jsonout import dumps
from ..signals import get as signal_type
from . import register
from .coverage import budget_statement, fragment_statement, stop_statement, unscanned
from .model import hit_signals

CONTEXT = {
    "kb": "https://triage.invalid/kb/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-configuration": "https://ontology.unifiedcyberontology.org/uco/configuration/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "triage": "https://triage.invalid/ns/case/",
}
_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "https://triage.invalid/ns/case/")
TIMES = {"mtime": "modifiedTime", "atime": "accessedTime", "ctime": "metadataChangeTime",
         "crtime": "observableCreatedTime"}
IMAGES = ("raw", "split-raw", "ewf")


def _integer(n):
    return None if n is None else {"@type": "xsd:integer", "@value": str(n)}


def _time(t):
    return None if t is None else {"@type": "xsd:dateTime", "@value": t}


def _ref(node):
    return None if node is None else {"@id": node["@id"]}


class _Graph:
    def __init__(self, report: dict):
        case = report["case"]
        identity = [report["started"] or "", case["case_number"] or "",
                    case["evidence_id"] or ""] + [ev["path"] for ev in report["evidence"]]
        self.namespace = uuid.uuid5(_ROOT, "\x00".join(identity))
        self.nodes = []

    def node(self, kind: str, key: str, type_: str, props: dict) -> dict:
        """A node named by uuid5 of its kind and key, without its empty properties; nested
        where it is used (facets, hashes), or added to the graph with `add`."""
        ident = uuid.uuid5(self.namespace, kind + "\x00" + key)
        node = {"@id": f"kb:{kind}-{ident}", "@type": type_}
        node.update((k, v) for k, v in props.items() if v is not None and v != [])
        return node

    def add(self, kind: str, key: str, type_: str, props: dict) -> dict:
        node = self.node(kind, key, type_, props)
        self.nodes.append(node)
        return node

    def hashes(self, key: str, digests: dict) -> list:
        return [self.node("Hash", key + "\x00" + name, "uco-types:Hash", {
            "uco-types:hashMethod": name.upper(),
            "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value}})
            for name, value in digests.items()]

    def contained_within(self, inner: dict, outer: dict) -> None:
        self.add("Relationship", inner["@id"] + "\x00" + outer["@id"], "uco-core:Relationship", {
            "uco-core:source": _ref(inner), "uco-core:target": _ref(outer),
            "uco-core:kindOfRelationship": "Contained_Within", "uco-core:isDirectional": True})


@register("case", "report.jsonld")
def render(report: dict) -> bytes:
    g = _Graph(report)
    case, tool_info, summary = report["case"], report["tool"], report["summary"]
    tool = g.add("Tool", "tool", "uco-tool:AnalyticTool", {
        "uco-core:name": tool_info["name"], "uco-tool:version": tool_info["version"],
        "uco-tool:toolType": "known-file hash matching"})
    examiner = (g.add("Person", case["examiner"], "uco-identity:Person",
                      {"uco-core:name": case["examiner"]}) if case["examiner"] else None)

    evidence = {ev["path"]: _evidence(g, ev) for ev in report["evidence"]}
    received = g.add("ProvenanceRecord", "evidence", "case-investigation:ProvenanceRecord", {
        "case-investigation:exhibitNumber": case["evidence_id"],
        "uco-core:description": "Evidence as received",
        "uco-core:object": [_ref(node) for node, _ in evidence.values()]})
    versions = {hs["name"]: hs["version"] for hs in report["hashsets"]}
    hits = [_hit(g, hit, evidence, versions) for hit in report["hits"]]
    found = g.add("ProvenanceRecord", "hits", "case-investigation:ProvenanceRecord", {
        "case-investigation:rootExhibitNumber": case["evidence_id"],
        "uco-core:description": "Files matching known hash sets: metadata and hashes only, "
                                "no content",
        "uco-core:object": [_ref(node) for node, _ in hits]}) if hits else None
    fragments = [_fragment(g, f, evidence) for f in report.get("fragments") or []]
    pieces = g.add("ProvenanceRecord", "fragments", "case-investigation:ProvenanceRecord", {
        "case-investigation:rootExhibitNumber": case["evidence_id"],
        "uco-core:description": "Byte ranges of the media holding blocks of known files: "
                                "offsets and sizes only, no content",
        "uco-core:object": [_ref(n) for runs, _ in fragments for n in runs]}) \
        if fragments else None

    configured = g.add("ConfiguredTool", "run", "uco-tool:ConfiguredTool", {
        "uco-core:name": f"{tool_info['name']} (run configuration)",
        "uco-tool:version": tool_info["version"],
        "uco-configuration:isConfigurationOf": _ref(tool),
        "uco-configuration:usesConfiguration": g.node(
            "Configuration", "run", "uco-configuration:Configuration", {
                "uco-configuration:configurationEntry": _hashset_entries(g, report)})})
    notes = [case["notes"]] if case["notes"] else []
    stopped = stop_statement(report)
    if stopped:
        notes.append(stopped[0].upper() + stopped[1:])
        notes += [f"Not finished: {path}" for path in unscanned(report)]
    if report.get("sampling"):
        notes.append("Sampling: " + report["sampling"]["statement"])
    if budget_statement(report):
        notes.append("Time budget: " + budget_statement(report))
    if summary["errors"]:
        notes.append(f"{summary['errors']} item(s) could not be read: coverage was not total")
    action = g.add("InvestigativeAction", "scan", "case-investigation:InvestigativeAction", {
        "uco-core:name": "triage scan",
        "uco-core:description": notes,
        "uco-action:actionStatus": "Complete/Finish" if report["complete"] else None,
        "uco-action:startTime": _time(report["started"]),
        "uco-action:endTime": _time(report["finished"]),
        "uco-action:instrument": _ref(configured),
        "uco-action:performer": _ref(examiner),
        "uco-action:object": [_ref(received)],
        "uco-action:result": [_ref(n) for n in [found, pieces] + [note for _, note in hits]
                              + [note for _, note in fragments] if n]})
    if case["case_number"]:
        g.add("Investigation", case["case_number"], "case-investigation:Investigation", {
            "uco-core:name": case["case_number"], "uco-core:object": [_ref(action)]})
    return (dumps({"@context": CONTEXT, "@graph": g.nodes}, indent=2) + "\n").encode("utf-8")


def _evidence(g: _Graph, ev: dict):
    """The evidence item's node, and its volumes: {index: (DiskPartition node, fs_type)}."""
    key, folder = ev["path"], ev["container"] == "folder"
    facets = [g.node("FileFacet", key, "uco-observable:FileFacet", {
        "uco-observable:filePath": ev["path"],
        "uco-observable:fileName": PurePosixPath(ev["path"]).name,
        "uco-observable:isDirectory": True if folder else None})]
    if ev["container"] in IMAGES:
        facets.append(g.node("ImageFacet", key, "uco-observable:ImageFacet",
                             {"uco-observable:imageType": ev["container"]}))
    if ev["size"] is not None or ev["stored_hashes"]:
        # The media's size and the hashes stored at acquisition describe its content, which for
        # an E01 is not the container file: they belong on the content facet.
        facets.append(g.node("ContentDataFacet", key, "uco-observable:ContentDataFacet", {
            "uco-observable:sizeInBytes": _integer(ev["size"]),
            "uco-observable:hash": g.hashes(key, ev["stored_hashes"])}))
    node = g.add("Evidence", key, "uco-observable:Directory" if folder else
                 "uco-observable:File", {"uco-core:hasFacet": facets})
    header = {k: v for k, v in ev["metadata"].items() if v is not None}
    if header:   # what whoever acquired the image typed in: stated, not interpreted
        g.add("Annotation", key, "uco-core:Annotation", {
            "uco-core:name": "EWF header",
            "uco-core:statement": [f"{k}: {v}" for k, v in header.items()],
            "uco-core:object": [_ref(node)]})
    volumes = {}
    for vol in ev["volumes"]:
        vkey = f"{key}\x00{vol['index']}"
        facets = [g.node("DiskPartitionFacet", vkey, "uco-observable:DiskPartitionFacet", {
            "uco-observable:partitionID": str(vol["index"]),
            "uco-observable:partitionOffset": _integer(vol["offset"]),
            "uco-observable:partitionLength": _integer(vol["length"])})]
        if vol["fs_type"]:
            facets.append(g.node("FileSystemFacet", vkey, "uco-observable:FileSystemFacet", {
                "uco-observable:fileSystemType": vol["fs_type"],
                "uco-observable:clusterSize": _integer(vol["block_size"])}))
        partition = g.add("DiskPartition", vkey, "uco-observable:DiskPartition", {
            "uco-core:description": [d for d in (vol["description"], vol["error"]) if d],
            "uco-core:hasFacet": facets})
        g.contained_within(partition, node)
        volumes[vol["index"]] = (partition, vol["fs_type"] or "")
    return node, volumes


def _hit(g: _Graph, hit: dict, evidence: dict, versions: dict):
    """A hit's File, related to where it was found, and the Annotation of what it matched."""
    vol = hit["volume"]
    key = "\x00".join([hit["evidence"], "-" if vol is None else str(vol["index"]),
                       str(hit["inode"]), hit["path"]])
    file_facet = g.node("FileFacet", key, "uco-observable:FileFacet", {
        "uco-observable:filePath": hit["path"],
        "uco-observable:fileName": PurePosixPath(hit["path"]).name,
        "uco-observable:sizeInBytes": _integer(hit["size"]),
        "uco-observable:allocationStatus": "Allocated" if hit["allocated"] else "Unallocated",
        **{f"uco-observable:{term}": _time(hit[field]) for field, term in TIMES.items()}})
    signals = hit_signals(hit)
    facets = [file_facet, g.node("ContentDataFacet", key, "uco-observable:ContentDataFacet",
                                 {"uco-observable:hash": g.hashes(key, signals)})]
    ev_node, volumes = evidence[hit["evidence"]]
    partition, fs_type = volumes.get(vol["index"], (None, "")) if vol else (None, "")
    if hit["inode"] is not None:
        if fs_type.startswith("ext"):
            facets.append(g.node("ExtInodeFacet", key, "uco-observable:ExtInodeFacet",
                                 {"uco-observable:extInodeID": _integer(hit["inode"])}))
        elif fs_type == "ntfs":
            facets.append(g.node("NTFSFileFacet", key, "uco-observable:NTFSFileFacet",
                                 {"uco-observable:entryID": _integer(hit["inode"])}))
        else:
            file_facet["triage:inode"] = _integer(hit["inode"])
    node = g.add("File", key, "uco-observable:File", {"uco-core:hasFacet": facets})
    g.contained_within(node, ev_node)
    if partition is not None:
        g.contained_within(node, partition)
    note = g.add("Annotation", key, "uco-core:Annotation", {
        "uco-core:name": "hash match",
        "uco-core:statement": [_statement(m, versions) for m in hit["matches"]],
        "uco-core:tag": sorted({f"category:{m['category']}" for m in hit["matches"]
                                if m["category"]}),
        "uco-core:object": [_ref(node)]})
    return node, note


def _fragment(g: _Graph, f: dict, evidence: dict):
    """A fragment's runs, each an ObservableObject with its DataRangeFacet, related to the
    evidence and partition they lie in, and the Annotation of what they hold."""
    vol = f["volume"]
    base = "\x00".join([f["evidence"], "-" if vol is None else str(vol["index"]), f["set"],
                        f["reference_md5"]])
    ev_node, volumes = evidence[f["evidence"]]
    partition = volumes.get(vol["index"], (None, ""))[0] if vol else None
    runs = []
    for run in f["runs"]:
        key = f"{base}\x00{run['offset']}"
        node = g.add("DataRange", key, "uco-observable:ObservableObject", {
            "uco-core:hasFacet": [g.node("DataRangeFacet", key, "uco-observable:DataRangeFacet", {
                "uco-observable:rangeOffset": _integer(run["offset"]),
                "uco-observable:rangeSize": _integer(run["length"]),
                "uco-observable:rangeOffsetType":
                    "volume" if f.get("within") == "volume" else "image"})]})
        g.contained_within(node, ev_node)
        if partition is not None:
            g.contained_within(node, partition)
        runs.append(node)
    # a reference file can be two findings (a live copy, another in unallocated space): the
    # finding is named by its first run too
    note = g.add("Annotation", f"{base}\x00{f['runs'][0]['offset']}", "uco-core:Annotation", {
        "uco-core:name": "block match",
        "uco-core:statement": [fragment_statement(f)],
        "uco-core:tag": [f"category:{f['category']}"] if f["category"] else [],
        "uco-core:object": [_ref(n) for n in runs]})
    return runs, note


def _statement(m: dict, versions: dict) -> str:
    """One matched set entry in words, e.g. "exact md5 match in alert set 'csam-2026'
    version '3', category '1', entry ID '17', set value 9e10...": what it matched, by the
    entry's ID and stored value, never its name."""
    version = versions.get(m["set"])
    parts = [f"{signal_type(m['signal']).kind} {m['signal']} match in {m['kind']} set "
             f"{m['set']!r}" + (f" version {version!r}" if version else ""),
             f"category {m['category']!r}" if m["category"] else "no category"]
    if m["series"]:
        parts.append(f"series {m['series']!r}")
    if m.get("id"):
        parts.append(f"entry ID {m['id']!r}")
    if m.get("value"):
        parts.append(f"set value {m['value']}")
    if signal_type(m["signal"]).kind == "perceptual":
        parts.append(f"distance {m['distance']}")
    for extra in ("variant", "quality"):
        if m.get(extra) is not None:
            parts.append(f"{extra} {m[extra]}")
    if m.get("sealed"):
        parts.append(f"sealed set: keyed fingerprint, design false-positive rate "
                     f"{m['false_positive_rate']:.2g}")
    return ", ".join(parts)


def _hashset_entries(g: _Graph, report: dict) -> list:
    """One configuration entry per hash-set source, pointing at the source and its SHA-256."""
    entries = []
    for hs in report["hashsets"]:
        described = (f"{hs['kind']} set {hs['name']!r}"
                     + (f" version {hs['version']!r}" if hs["version"] else "")
                     + f": {hs['entries']} entries ({', '.join(hs['signals'])})")
        for src in hs["sources"]:
            key = f"{hs['name']}\x00{src['path']}"
            facets = [g.node("FileFacet", key, "uco-observable:FileFacet", {
                "uco-observable:filePath": src["path"],
                "uco-observable:fileName": PurePosixPath(src["path"]).name})]
            if src.get("sha256"):
                facets.append(g.node("ContentDataFacet", key, "uco-observable:ContentDataFacet",
                                     {"uco-observable:hash": g.hashes(
                                         key, {"sha256": src["sha256"]})}))
            source = g.add("HashSet", key, "uco-observable:Directory"
                           if src.get("format") == "folder" else "uco-observable:File",
                           {"uco-core:name": hs["name"], "uco-core:hasFacet": facets})
            entries.append(g.node(
                "ConfigurationEntry", key, "uco-configuration:ConfigurationEntry", {
                    "uco-configuration:itemName": "hashset",
                    "uco-configuration:itemDescription": described,
                    "uco-configuration:itemObject": _ref(source)}))
    return entries
