"""The compiled parts, all optional: tsk_walk's C directory listing against the system's libtsk
(apt: libtsk-dev), a folder's listing (folder.py, Linux), and the batch screen's reads of a
file's edges (judge._edges_at). When one cannot be built (no compiler, no libtsk headers) the
install goes on and the walk lists through pytsk3 or os.scandir alone, and the screen reads
through its Python function, with the same entries and answers, slower."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("triage.evidence._tskwalk", ["triage/evidence/_tskwalk.c"],
                             libraries=["tsk"], optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"]),
                   Extension("triage.evidence._oslist", ["triage/evidence/_oslist.c"],
                             optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"]),
                   Extension("triage.scanners._edges", ["triage/scanners/_edges.c"],
                             optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"])])
