"""Registry-specific providers: credentials and APIs beyond OCI distribution (ECR)."""
