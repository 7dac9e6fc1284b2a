"""Tests across layers with real binaries, real gdb over sockets, busybox and qemu-user."""
