"""report.jsonld: a CASE 1.5.0 / UCO 1.5.0 graph that case-utils' `case_validate` (pySHACL with
the bundled CASE 1.5.0 ontology, offline) accepts, holding exactly the scan's hits, its
evidence, examiner, tool and hash sets, with ids that depend only on the scan.

What the validator says, learnt on the way (case-utils 0.18.0, pySHACL 0.40.1): a `hashMethod`
outside HashNameVocab (PDQ, PHASH) is an sh:Info, so a graph holding one conforms only with
`--allow-info`; a `hashValue` that is not xsd:hexBinary is an sh:Violation."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HASH_FIELDS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}


def case_validate(path: Path, *options: str) -> subprocess.CompletedProcess:
    tool = shutil.which("case_validate") or str(Path(sys.executable).with_name("case_validate"))
    return subprocess.run([tool, "--built-version", "case-1.5.0", *options, str(path)],
                          capture_output=True, text=True, timeout=300)


class Graph:
    """The nodes of a JSON-LD graph by @id, nested ones (facets, hashes, entries) included."""

    def __init__(self, path: Path):
        self.doc = json.loads(path.read_text("utf-8"))
        self.nodes, self.refs = {}, []
        for node in self.doc["@graph"]:
            self._walk(node)

    def _walk(self, value):
        if isinstance(value, list):
            for v in value:
                self._walk(v)
        elif isinstance(value, dict):
            if set(value) == {"@id"}:
                self.refs.append(value["@id"])
            elif "@value" not in value:
                assert "@id" in value and "@type" in value, value
                assert value["@id"] not in self.nodes, f"two nodes are {value['@id']}"
                self.nodes[value["@id"]] = value
            for v in value.values():
                self._walk(v)

    def of_type(self, type_: str) -> list:
        return [n for n in self.nodes.values() if n["@type"] == type_]

    def get(self, ref: dict) -> dict:
        return self.nodes[ref["@id"]]

    def facet(self, node: dict, type_: str):
        return next((f for f in node["uco-core:hasFacet"] if f["@type"] == type_), None)

    def hashes(self, node: dict) -> dict:
        facet = self.facet(node, "uco-observable:ContentDataFacet") or {}
        return {h["uco-types:hashMethod"]: h["uco-types:hashValue"]["@value"]
                for h in facet.get("uco-observable:hash", [])}

    def path(self, node: dict):
        facet = self.facet(node, "uco-observable:FileFacet")
        return facet and facet["uco-observable:filePath"]

    def containers(self, node: dict) -> list:
        return [self.get(r["uco-core:target"])
                for r in self.of_type("uco-core:Relationship")
                if r["uco-core:source"]["@id"] == node["@id"]
                and r["uco-core:kindOfRelationship"] == "Contained_Within"]

    def hit_files(self) -> list:
        """The objects of the provenance record of the hits."""
        (record,) = [p for p in self.of_type("case-investigation:ProvenanceRecord")
                     if "case-investigation:rootExhibitNumber" in p]
        return [self.get(r) for r in record["uco-core:object"]]

    def about(self, node: dict, name: str) -> list:
        return [a for a in self.of_type("uco-core:Annotation") if a["uco-core:name"] == name
                and {"@id": node["@id"]} in a["uco-core:object"]]


def integer(literal: dict) -> int:
    assert literal["@type"] == "xsd:integer"
    return int(literal["@value"])


def test_the_validator_refuses_triages_output_with_a_bad_hash(hit_scan, tmp_path):
    """The gate can fail: triage's own graph with one hit's SHA-256 no longer hex (a
    `hashValue` must be xsd:hexBinary) is a violation, so `Conforms: True` below means
    something."""
    doc = json.loads((hit_scan.outdir / "report.jsonld").read_text("utf-8"))
    g = Graph(hit_scan.outdir / "report.jsonld")
    (digest,) = [h for h in g.nodes.values() if h.get("uco-types:hashMethod") == "SHA256"
                 and h["uco-types:hashValue"]["@value"] == hit_scan.report["hits"][0]["sha256"]]
    broken = json.dumps(doc).replace(digest["uco-types:hashValue"]["@value"], "not-hex")
    path = tmp_path / "broken.jsonld"
    path.write_text(broken, "utf-8")
    run = case_validate(path)
    assert run.returncode == 1 and "Conforms: False" in run.stdout
    assert "sh:Violation" in run.stdout and "not-hex" in run.stdout


def test_case_validate_accepts_the_report(hit_scan):
    run = case_validate(hit_scan.outdir / "report.jsonld")
    assert run.returncode == 0 and "Conforms: True" in run.stdout, run.stdout + run.stderr


def test_perceptual_hashes_are_only_outside_the_hash_vocabulary(photo_scan):
    """PDQ and pHash are not in UCO's HashNameVocab: that is an sh:Info, nothing worse."""
    path = photo_scan.outdir / "report.jsonld"
    strict = case_validate(path)
    assert strict.returncode == 1
    assert strict.stdout.count("Severity: sh:Info") == 2 and "sh:Violation" not in strict.stdout
    assert strict.stdout.count("not member of the vocabulary HashNameVocab") == 2
    run = case_validate(path, "--allow-info")
    assert run.returncode == 0 and "Conforms: True" in run.stdout, run.stdout + run.stderr


def test_every_node_is_typed_and_every_reference_resolves(hit_scan, photo_scan):
    for scan in (hit_scan, photo_scan):
        g = Graph(scan.outdir / "report.jsonld")
        assert set(g.doc) == {"@context", "@graph"}
        assert set(g.refs) <= set(g.nodes)
        prefixes = {n["@type"].split(":")[0] for n in g.nodes.values()}
        assert prefixes <= set(g.doc["@context"])
    # Ids of one scan are never those of another: their namespace is the scan's.
    assert not set(Graph(hit_scan.outdir / "report.jsonld").nodes) & \
        set(Graph(photo_scan.outdir / "report.jsonld").nodes)


def test_exactly_the_planted_hits_with_their_fields(hit_scan):
    g = Graph(hit_scan.outdir / "report.jsonld")
    (action,) = g.of_type("case-investigation:InvestigativeAction")
    (received,) = [g.get(r) for r in action["uco-action:object"]]
    evidence_paths = {g.path(g.get(r)): g.get(r) for r in received["uco-core:object"]}
    hit_files = g.hit_files()
    seen, inode_terms = set(), set()
    for node in hit_files:
        facet = g.facet(node, "uco-observable:FileFacet")
        inode_facet = (g.facet(node, "uco-observable:ExtInodeFacet") or
                       g.facet(node, "uco-observable:NTFSFileFacet") or facet)
        inode = next(integer(inode_facet[k]) for k in (
            "uco-observable:extInodeID", "uco-observable:entryID", "triage:inode")
            if k in inode_facet)
        containers = g.containers(node)
        (evidence,) = [c for c in containers if c["@type"] != "uco-observable:DiskPartition"]
        partitions = [c for c in containers if c["@type"] == "uco-observable:DiskPartition"]
        offset = (integer(g.facet(partitions[0], "uco-observable:DiskPartitionFacet")
                          ["uco-observable:partitionOffset"]) if partitions else None)
        inode_terms.add(inode_facet["@type"])
        key = (g.path(evidence), offset, facet["uco-observable:filePath"], inode)
        truth = hit_scan.expected[key]
        seen.add(key)
        assert evidence is evidence_paths[key[0]]
        assert integer(facet["uco-observable:sizeInBytes"]) == truth["size"]
        assert facet["uco-observable:allocationStatus"] == (
            "Allocated" if truth["allocated"] else "Unallocated")
        assert facet["uco-observable:fileName"] == key[2].rsplit("/", 1)[1]
        assert g.hashes(node) == {m: truth[f] for m, f in HASH_FIELDS.items()}
        (note,) = g.about(node, "hash match")
        assert note["uco-core:tag"] == [f"category:{truth['category']}"]
        assert note["uco-core:statement"] == [
            f"exact {s} match in alert set 'alert', category '{truth['category']}', "
            f"set value {truth[s]}" for s in ("md5", "sha1")]
        if partitions:   # where CASE has an inode term, it is used
            fs = g.facet(partitions[0], "uco-observable:FileSystemFacet")
            fs_type = fs["uco-observable:fileSystemType"]
            assert inode_facet["@type"] == {"ext4": "uco-observable:ExtInodeFacet",
                                            "ntfs": "uco-observable:NTFSFileFacet"}.get(
                fs_type, "uco-observable:FileFacet")
    assert seen == set(hit_scan.expected)
    assert {t["allocated"] for t in hit_scan.expected.values()} == {True, False}
    assert inode_terms == {"uco-observable:ExtInodeFacet", "uco-observable:NTFSFileFacet",
                           "uco-observable:FileFacet"}
    assert len(hit_files) == len(hit_scan.report["hits"])
    assert {n["@type"] for n in hit_files} == {"uco-observable:File"}


def test_evidence_examiner_tool_and_the_action(hit_scan):
    g = Graph(hit_scan.outdir / "report.jsonld")
    report = hit_scan.report
    ev = next(e for e in report["evidence"] if e["container"] == "ewf")
    (image,) = [n for n in g.of_type("uco-observable:File") if g.path(n) == ev["path"]]
    assert g.hashes(image) == {"MD5": "b1c549c072f6d098bd5edf5494d08365",
                               "SHA1": "2b62a0afd17e5b400417e47facedbfb3dd9cd802"}
    content = g.facet(image, "uco-observable:ContentDataFacet")
    assert integer(content["uco-observable:sizeInBytes"]) == 125829120
    assert g.facet(image, "uco-observable:ImageFacet")["uco-observable:imageType"] == "ewf"
    (header,) = g.about(image, "EWF header")
    assert {"case_number: case-001", "evidence_number: evidence-7", "examiner: Examiner Name",
            "acquisition_date: 2026-11-28T23:13:30Z"} <= set(header["uco-core:statement"])
    partitions = [p for p in g.of_type("uco-observable:DiskPartition")
                  if g.containers(p) == [image]]
    assert sorted(integer(g.facet(p, "uco-observable:DiskPartitionFacet")
                          ["uco-observable:partitionOffset"]) for p in partitions) == \
        [v["offset"] for v in ev["volumes"]]
    (folder,) = g.of_type("uco-observable:Directory")
    assert g.facet(folder, "uco-observable:FileFacet")["uco-observable:isDirectory"] is True

    (action,) = g.of_type("case-investigation:InvestigativeAction")
    assert action["uco-action:startTime"] == {"@type": "xsd:dateTime",
                                              "@value": report["started"]}
    assert action["uco-action:endTime"]["@value"] == report["finished"]
    assert action["uco-action:actionStatus"] == "Complete/Finish"
    assert g.get(action["uco-action:performer"])["uco-core:name"] == "E. Xaminer"
    (received,) = [g.get(r) for r in action["uco-action:object"]]
    assert received["case-investigation:exhibitNumber"] == "EX-7"
    assert {g.path(g.get(r)) for r in received["uco-core:object"]} == \
        {e["path"] for e in report["evidence"]}
    (investigation,) = g.of_type("case-investigation:Investigation")
    assert investigation["uco-core:name"] == "CASE-42"
    assert investigation["uco-core:object"] == [{"@id": action["@id"]}]

    configured = g.get(action["uco-action:instrument"])
    tool = g.get(configured["uco-configuration:isConfigurationOf"])
    assert (tool["uco-core:name"], tool["uco-tool:version"]) == ("triage",
                                                                 report["tool"]["version"])
    entries = configured["uco-configuration:usesConfiguration"][
        "uco-configuration:configurationEntry"]
    (entry,) = entries
    assert entry["uco-configuration:itemName"] == "hashset"
    source = g.get(entry["uco-configuration:itemObject"])
    (alert,) = hit_scan.hashset_sources
    assert g.hashes(source) == {"SHA256": hashlib.sha256(alert.read_bytes()).hexdigest()}
    assert source["uco-core:name"] == "alert"


def test_hostile_names_are_exact_and_shown(hit_scan):
    raw = (hit_scan.outdir / "report.jsonld").read_text("utf-8")
    g = Graph(hit_scan.outdir / "report.jsonld")
    paths = {g.path(n) for n in g.hit_files()}
    assert paths == {h["path"] for h in hit_scan.report["hits"]}
    assert {"/<script>alert(1)<\\script>.txt", "/invoice\u202etxt.exe",
            "/ctl\x01bell\x07esc\x1b[31m.txt", "/new\nline.txt"} <= paths
    assert "\u202e" not in raw and "/invoice\\u202etxt.exe" in raw
    assert not any(c in raw for c in "\x01\x07\x1b")


def test_a_perceptual_match_is_stated_with_its_distance_and_variant(photo_scan):
    g = Graph(photo_scan.outdir / "report.jsonld")
    (hit,) = photo_scan.report["hits"]
    (match,) = hit["matches"]
    (node,) = [n for n in g.of_type("uco-observable:File") if g.path(n) == hit["path"]]
    assert g.hashes(node) == {"MD5": hit["md5"], "SHA1": hit["sha1"], "SHA256": hit["sha256"],
                              "PDQ": hit["pdq"], "PHASH": hit["phash"]}
    (note,) = g.about(node, "hash match")
    listed = photo_scan.hashset_sources[0].read_text().splitlines()[1].split(",")[0]
    assert note["uco-core:statement"] == [
        f"perceptual pdq match in alert set 'photos', category 'CAT1', series 'bridge-series', "
        f"set value {listed}, distance {match['distance']}, variant {match['variant']}, "
        f"quality {match['quality']}"]
    assert g.facet(node, "uco-observable:FileFacet")["triage:inode"]["@value"] == \
        str(hit["inode"])


def test_a_match_is_stated_with_its_set_entry_id(demo_scan):
    g = Graph(demo_scan.outdir / "report.jsonld")
    (near,) = demo_scan.expected["near_duplicates"]
    (node,) = [n for n in g.of_type("uco-observable:File") if g.path(n) == near["path"]]
    (note,) = g.about(node, "hash match")
    assert note["uco-core:statement"] == [
        f"perceptual pdq match in alert set 'demo-alert', category '2', entry ID '3', "
        f"set value {near['pdq']}, distance {near['pdq_distance']}, variant original, "
        f"quality 100"]


def test_report_render_reproduces_it_byte_for_byte(hit_scan, tmp_path):
    again = hit_scan.rerender(tmp_path)
    assert again["report.jsonld"] == (hit_scan.outdir / "report.jsonld").read_bytes()


def test_holds_no_content(hit_scan, photo_scan):
    for scan in (hit_scan, photo_scan):
        assert scan.holds_no_content((scan.outdir / "report.jsonld").read_bytes())


@pytest.mark.parametrize("field", ["case_number", "examiner", "evidence_id"])
def test_without_case_details_the_graph_leaves_them_out(hit_scan, field):
    from triage.reporters.case_report import render
    report = json.loads((hit_scan.outdir / "report.json").read_text("utf-8"))
    report["case"][field] = None
    doc = json.loads(render(report))
    text = json.dumps(doc)
    gone = {"case_number": "CASE-42", "examiner": "E. Xaminer", "evidence_id": "EX-7"}[field]
    assert gone not in text and "null" not in text


def test_fragments_are_data_ranges_the_validator_accepts(block_scan, block_evidence):
    path = block_scan.outdir / "report.jsonld"
    run = case_validate(path)
    assert run.returncode == 0 and "Conforms: True" in run.stdout, run.stdout + run.stderr
    g = Graph(path)
    (image,) = [n for n in g.of_type("uco-observable:File")
                if g.path(n) == str(block_evidence.image)]
    ranges = {}
    for node in g.of_type("uco-observable:ObservableObject"):
        facet = g.facet(node, "uco-observable:DataRangeFacet")
        containers = g.containers(node)
        assert containers[0] is image and containers[1]["@type"] == \
            "uco-observable:DiskPartition"
        (note,) = g.about(node, "block match")
        ranges[integer(facet["uco-observable:rangeOffset"])] = (
            integer(facet["uco-observable:rangeSize"]), facet["uco-observable:rangeOffsetType"],
            note["uco-core:statement"], note["uco-core:tag"])
    (live,) = block_evidence.runs("live")
    assert ranges == {
        live["offset"]: (40960, "image", [
            f"10 of 10 4 KiB blocks of reference file MD5 {block_evidence.md5('live')} (set "
            f"'ref', category '1') found in 1 run on the media; claimed by /b.jpg (inode 12, "
            f"allocated)"], ["category:1"]),
        block_evidence.loose_at: (49152, "image", [
            f"12 of 12 4 KiB blocks of reference file MD5 {block_evidence.md5('loose')} (set "
            f"'ref', category '1') found in 1 run on the media; in unallocated space (no "
            f"file-system object claims it)"], ["category:1"])}
    (record,) = [p for p in g.of_type("case-investigation:ProvenanceRecord")
                 if p["uco-core:description"].startswith("Byte ranges")]
    assert len(record["uco-core:object"]) == 2
    (action,) = g.of_type("case-investigation:InvestigativeAction")
    elapsed = block_scan.report["time_budget"]["elapsed"]
    assert action["uco-core:description"] == [
        "Sampling: known material found by sampling: the media was then scanned in full",
        f"Time budget: time budget of 3600 s not spent: the scan took {elapsed:.1f} s"]
    assert {"@id": record["@id"]} in action["uco-action:result"]


def test_a_stopped_scan_says_why_and_what_it_did_not_finish(block_scan):
    from triage.reporters.case_report import render
    report = json.loads((block_scan.outdir / "report.json").read_text("utf-8"))
    report.update(complete=False, stopped="budget", sampling=None,
                  time_budget={"seconds": 0.5, "spent": True, "elapsed": 0.52})
    report["evidence"][0]["scanned"] = False
    doc = json.loads(render(report))
    (action,) = [n for n in doc["@graph"]
                 if n["@type"] == "case-investigation:InvestigativeAction"]
    assert action["uco-core:description"] == [
        "Stopped when its time budget was spent: only part of the evidence was scanned",
        f"Not finished: {report['evidence'][0]['path']}",
        "Time budget: time budget of 0.5 s spent after 0.5 s: the scan stopped there and is "
        "not complete"]
    assert "uco-action:actionStatus" not in action


def test_a_sealed_match_states_its_false_positive_rate(sealed_block_scan):
    g = Graph(sealed_block_scan.outdir / "report.jsonld")
    (node,) = [n for n in g.of_type("uco-observable:File") if g.path(n) == "/b.jpg"]
    (note,) = g.about(node, "hash match")
    assert note["uco-core:statement"] == [
        f"exact {s} match in alert set 'ref', category '1', set value "
        f"{sealed_block_scan.report['hits'][0][s]}, sealed set: keyed fingerprint, design "
        f"false-positive rate 9.3e-10" for s in ("md5", "sha1", "sha256")]
