"""The outbox, the worker that delivers it (e-mail, signed webhooks) and webhook subscriptions.

Domains call `huoban.jobs.outbox.enqueue_email` / `publish_event` inside their own transaction;
`huoban worker` delivers what was committed, with retries and dead letters.
"""
