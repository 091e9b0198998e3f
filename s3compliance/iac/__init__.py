"""Infrastructure as code generated from a scan: the Pulumi import program and the least-privilege
IAM policy. Reads findings and declarations only; never calls AWS."""
