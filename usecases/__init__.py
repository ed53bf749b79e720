"""The use cases: one function per thing a person can do in Thok (issue 14; cosmicpython's service
layer). Each does the domain call, writes its audit row and records its notices
(`domain.events.notify`) in the caller's unit of work, so the same action tells the same people the
same thing, and is audited the same way, whether it starts on WhatsApp, in the dashboard or in the
`thok` CLI. The entry points only translate: request -> call -> response.

- `usecases.actor`: who acts (`Actor`) and the one audit writer every use case uses.
- `usecases.khata`: record and reverse a payment, set a credit limit (overall or per wholesaler).
- `usecases.parties`: register a retailer or a wholesaler.
- `usecases.catalog`: import a wholesaler's prices.
- `usecases.orders`, `usecases.offers`: the order's life (place, confirm, cancel, offers, dispatch).

Below the entry points and handlers, above `domain`: no Flask, Twilio, RQ or `thok.config` here.
The caller commits; notices become outbox rows when it does (`workers.effects.collect`).
"""
