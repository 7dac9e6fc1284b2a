"""Type stub for the native block counter (loaded through ctypes by its file name)."""
