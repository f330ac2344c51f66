"""Fingerprints: the lines an asset hash is made of (inputs, extra files) and the per-function
record of what a build read."""
