"""Process instances: the command executor (the one path that changes an instance), the human-task
projection it keeps, timers, messages, external calls, the scheduler and the Celery jobs."""
