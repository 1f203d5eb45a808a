"""The survey's handler: a typical small function (JSON in and out, a time stamp, the context)."""
import datetime


def handler(event, context):
    return {
        "hello": event.get("name"),
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
