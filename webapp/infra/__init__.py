"""Infrastructure under the models and the domain: database helpers, pagination, errors,
input limits, the Redis connection and queues, the hit spool, outbound HTTP."""
