"""Build and maintenance scripts."""
