"""Triggers (on an event) and automations (on time): conditions and actions over tickets.

- `registry`: the conditions and actions rules may use; apps above tickets add theirs
  in `AppConfig.ready()` (sla: SLA state and business hours; mailgate: e-mail the
  requester from a template; webhooks: call an endpoint).
- `engine`: matching, and the triggers of a new ticket applied before it is inserted
  (no services import: `tickets.services` calls it).
- `runner`: triggers on the events of a write (inside its transaction, loop guard), the
  actions on a saved ticket, and the automation scan.
- `dryrun`: "would match N of the open tickets now", on a capped sample.
"""
