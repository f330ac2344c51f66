"""Construct planning: turns a construct's props into a bundle plan and wires the function. The
only private room that touches CDK objects; it never runs a build itself."""
