"""The catalogue's DynamoDB stream (filtered in template.yaml): album deletions finished in
the background, caches and covers kept right; partial batch failures reported, poison
records to the dead-letter queue."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core import bootstrap
from albums_core.config import require
from albums_core.observability import STREAM_EVENT_ID, trigger_entry

# Poison records go to this queue: without its URL the init fails, not the first bad record.
require("DEAD_LETTER_QUEUE_URL")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@trigger_entry(STREAM_EVENT_ID)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    # Each album page the batch makes stale is dropped once, after its records; before the
    # response, so a crash here has the whole batch delivered again.
    events = bootstrap.stream_events()
    pages = events.pages()

    def record_handler(record: DynamoDBRecord) -> str:
        return events.handle_with_dead_letters(record.raw_event, pages)

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        pages.flush()
