"""A Python function for Flicker's python3.11 runtime: Handler app.handler (README)."""
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    name = event.get("name", "world")
    logger.info("greeting %s", name)
    return {"greeting": f"hello, {name}", "function": context.function_name}
