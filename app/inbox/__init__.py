"""The inbox: what people do with their tasks — the inbox views, the task page and its form,
claiming, delegating, out-of-office routing, drafts, comments, notifications, and the task API."""
