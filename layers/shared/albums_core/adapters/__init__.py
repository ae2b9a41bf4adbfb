"""Everything that talks to AWS or to the network: DynamoDB, S3, KMS, SSM, PDSes."""
