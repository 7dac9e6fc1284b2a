"""The GDB remote protocol: framing (packets), typed requests (commands), the stub, sockets."""
