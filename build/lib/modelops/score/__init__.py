"""Batch scoring: `modelops score` scores a snapshot with the served version, behind a data gate."""
