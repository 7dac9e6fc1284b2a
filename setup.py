"""Builds the native block counter that gives ttdbg exact instruction counts at full speed."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ttdbg.backend._blockcount", ["ttdbg/backend/_blockcount.c"])])
