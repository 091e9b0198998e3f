"""What a scan leaves behind: the findings contract, the run folder, charts and the notebook.

Nothing here talks to AWS or imports the Pulumi generator (the caller that assembles a run folder
hands the generator's writer to :func:`s3compliance.outputs.report.write_report`).
"""
