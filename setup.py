"""The one compiled part, optional: tsk_walk's C directory listing against the system's libtsk
(apt: libtsk-dev). When it cannot be built (no compiler, no libtsk headers) the install goes on
and tsk_walk lists through pytsk3 alone, with the same entries, slower."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("triage.evidence._tskwalk", ["triage/evidence/_tskwalk.c"],
                             libraries=["tsk"], optional=True,
                             extra_compile_args=["-Werror=implicit-function-declaration"])])
