"""The data lifecycle: retention jobs and Meta's data-deletion callback."""
