"""The live ingestion of the relay's firehose, one module per concern:

- consumer.py     the run: the lease, the cursor checkpointed after each batch, the heartbeat
- gap.py          a lost stretch of the stream: every artist (and liker) read again, by jobs
- ingest.py       one batch applied, in order: planning.py (new, verified commits per
                  repository), tracks.py (records from the commits) or indexing.py (the
                  indexer, within aside.py's budget), like_reads.py and likes.py, accounts.py
- held.py         what this container holds of each artist's catalogue, and the pages to drop
- like_reread.py  the job that reconciles a liker's likes after a gap (like_reads.py)

They depend on albums_core.ports.firehose only; albums_core.bootstrap.firehose wires them."""
