"""Builds the native block counter that gives ttdbg exact instruction counts at full speed."""

from setuptools import Extension, setup

SOURCES = ["ttdbg/backend/_blockcount.c", "ttdbg/backend/_threadswitch.c"]
setup(ext_modules=[Extension("ttdbg.backend._blockcount", SOURCES)])
