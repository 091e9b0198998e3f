"""The change watcher: CloudTrail events of S3 configuration changes, delivered by EventBridge to
an SQS queue, turned into delta runs (README "History": full and delta runs).

``events`` reads and validates one queue message (untrusted input) and decides whether its
bucket is in the scan's scope; ``coalesce`` groups the changes of a burst into one rescan. Both
are pure: the loop that receives, rescans and publishes reuses the scan's engines and the run
folder code.
"""
