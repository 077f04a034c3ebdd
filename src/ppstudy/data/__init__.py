"""Datasets: the real ones (downloaded, checksummed, cached) and the bundled sample data of the smoke profile."""
