"""ATProto over the network: guarded HTTP, XRPC, identity, public reads, record writes."""
