"""Entry points for RQ: thin job functions (load, call the domain, return) and the periodic
schedule. The domain enqueues them by name through webapp.infra.queues."""
