"""Support: the lowest room. Settings, on-disk paths, the output channel, the per-app session,
the disk memo, child processes and timing. Imports nothing of the package but `errors`."""
