"""The catalogue, cache and session tables: the one codec, every key, every DynamoDB call."""
