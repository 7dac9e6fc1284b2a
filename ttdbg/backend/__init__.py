"""Everything that runs the guest: architectures, loader, Linux platform, machine, recorder."""
