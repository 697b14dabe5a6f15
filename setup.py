"""The compiled parts, both optional: tsk_walk's C directory listing against the system's libtsk
(apt: libtsk-dev), and a folder's listing (folder.py, Linux). When one cannot be built (no
compiler, no libtsk headers) the install goes on and the walk lists through pytsk3 or
os.scandir alone, with the same entries, slower."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("triage.evidence._tskwalk", ["triage/evidence/_tskwalk.c"],
                             libraries=["tsk"], optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"]),
                   Extension("triage.evidence._oslist", ["triage/evidence/_oslist.c"],
                             optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"])])
