"""Accepted risks: exceptions as reviewed data, applied to the findings as a pure step.

An exception is an entry of a YAML file that a team reviews like code: which checks on which
buckets (in which accounts and regions) are accepted, by whom, why, and until when. The file is
validated before any AWS call (:mod:`s3compliance.accepted.exceptions`); after the checks, the
active entries mark the FAIL findings they cover (:mod:`s3compliance.accepted.apply`). Nothing
here calls AWS or writes a file: the truth of a finding (its status) never changes, an accepted
FAIL only gains the exception's id and end date.

It sits between the checks and the outputs: it imports the catalogue, and the scan, the report
and the CLI import it. This package file imports nothing, so that reading the parameters (which
validates the file) loads no pandas.
"""
