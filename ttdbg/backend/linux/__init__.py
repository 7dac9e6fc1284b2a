"""The Linux user-mode platform: syscalls, file descriptors, memory, signals."""
