"""The firehose consumer (a Schedule event in template.yaml): holds the relay's stream until
shortly before its timeout, applying events and checkpointing as it goes; one invocation at a
time holds the lease, and a scheduled one that finds it held returns at once."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.bootstrap import firehose
from albums_core.config import firehose_settings
from albums_core.observability import logger, trigger_entry
from albums_core.services.firehose.consumer import ConsumerConfig

firehose_settings()  # checked at init: a bad FIREHOSE_* value fails the cold start, naming it


@trigger_entry(correlation_paths.EVENT_BRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    own = firehose_settings()
    config = ConsumerConfig(
        relay_url=own.relay_url,
        start_cursor=own.start_cursor,
        lease_seconds=own.lease_seconds,
        hold_seconds=own.hold_seconds,
        stop_margin_seconds=own.stop_margin_seconds,
        batch_size=own.batch_size,
        checkpoint_seconds=own.checkpoint_seconds,
    )
    report = firehose.consumer(config).run(context.get_remaining_time_in_millis).summary()
    logger.info("firehose consumer finished", extra=report)
    return report
