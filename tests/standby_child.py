"""A relay as `jiedao relay` runs it (advisory lock, standby, topic watch), on a test's store:
python -m tests.standby_child URL SCHEMA BOOTSTRAP TOPIC. Logs to stderr."""

import asyncio
import logging
import sys

from deploy.processes import relay_store

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url, schema, bootstrap, topic = sys.argv[1:5]
    asyncio.run(relay_store(url, schema, "test", bootstrap, topic, partitions=4, batch=50))
