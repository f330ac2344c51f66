"""The artifact store: sealed artifacts on the local disk and the shared S3 cache."""
