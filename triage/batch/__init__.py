"""`triage batch`: many evidence items as one case, through Dask (a LocalCluster, or a cluster
reached by its scheduler's address). Each item is one `triage scan` (triage.scan.scan) into its
own folder of the case; a large item is split into parts (triage.scope), each scanned into a
results database of its own and merged into the item's. Batch drives scans; it never
reimplements one.

    sources.py  SOURCES -> evidence items (files, folders of items, CSV manifests), their ids
    sets.py     the hash sets, checked and compiled once
    state.py    the case folder: batch.json, lock, --resume and --force
    plan.py     a large item's parts, byte-balanced
    tasks.py    what runs on a worker: scan an item or a part, plan, merge (merge.py)
    engine.py   the Dask cluster
    runner.py   the batch from start to end
    case.py     the case report and the exit code over the case; render.py writes it
    progress.py the one progress bar"""
