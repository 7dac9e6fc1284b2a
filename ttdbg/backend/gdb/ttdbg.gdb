# Loaded by `ttdbg gdb`. A monitor command can move time (seek, loadvm); gdb does not know, so
# refresh its register cache and show where we are now.
define hookpost-monitor
  maintenance flush register-cache
end
