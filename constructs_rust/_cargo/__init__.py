"""Cargo facts: workspace metadata, config files, the dependency graph, targets, toolchains and
git sources. Asks cargo; never builds, never creates constructs."""
