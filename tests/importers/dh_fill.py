"""Fill a django-helpdesk 2.6.1 database with its own models (run inside its venv).

    python dh_fill.py MANIFEST.json

Writes a manifest of what it created (ids, texts, times, file hashes) for the tests to
compare the import with. Times are fixed relative to NOW (argv[2], ISO) so the tests can
travel to the same instant.
"""
import hashlib
import json
import sys
from datetime import datetime, timedelta

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from helpdesk.models import (  # noqa: E402
    CustomField,
    FollowUp,
    FollowUpAttachment,
    KBCategory,
    KBItem,
    Queue,
    Ticket,
    TicketCC,
    TicketChange,
    TicketCustomFieldValue,
    TicketDependency,
)

NOW = datetime.fromisoformat(sys.argv[2])
User = get_user_model()
manifest = {"tickets": {}, "users": {}, "kb": {}}


def ago(**kw):
    return NOW - timedelta(**kw)


def user(username, email, *, staff=False, superuser=False, password=None, first="", last=""):
    u = User.objects.create(username=username, email=email, is_staff=staff or superuser,
                            is_superuser=superuser, first_name=first, last_name=last,
                            date_joined=ago(days=400))
    if password:
        u.set_password(password)
    else:
        u.set_unusable_password()
    u.save()
    manifest["users"][username] = {"id": u.id, "email": email, "staff": staff or superuser}
    return u


admin = user("hd_admin", "admin@support.example", superuser=True, first="Ada", last="Admin")
sam = user("sam", "sam@support.example", staff=True, first="Sam", last="Agent")
kim = user("kim", "kim@support.example", staff=True, first="Kim", last="Lead")
alice = user("alice", "alice@acme.example", password="alice-pass-123", first="Alice",
             last="Acme")
dave = user("dave", "Dave@Initech.example", first="Dave", last="Initech")

support = Queue.objects.create(title="Support", slug="support", allow_email_submission=True)
billing = Queue.objects.create(title="Billing", slug="billing")
tier = CustomField.objects.create(name="customer_tier", label="Customer tier",
                                  data_type="varchar", max_length=50, ordering=1)
os_field = CustomField.objects.create(name="os", label="Operating system", data_type="list",
                                      list_values="Linux\nmacOS\nWindows", ordering=2)


def ticket(key, title, queue, *, submitter, description, created, priority=3, status=1,
           assigned=None, on_hold=False, due=None):
    t = Ticket.objects.create(title=title, queue=queue, submitter_email=submitter,
                              description=description, priority=priority, status=status,
                              assigned_to=assigned, on_hold=on_hold, due_date=due)
    manifest["tickets"][key] = {"id": t.id, "title": title, "description": description,
                                "created": created.isoformat(), "followups": [],
                                "status": status, "priority": priority}
    t._created = created
    return t


def followup(key, t, *, at, comment, public=True, user=None, title=None, new_status=None,
             time_spent=None, files=(), changes=()):
    f = FollowUp.objects.create(ticket=t, date=at, comment=comment, public=public, user=user,
                                title=title or "Comment", new_status=new_status,
                                time_spent=time_spent)
    entry = {"id": f.id, "comment": comment, "public": public, "date": at.isoformat(),
             "user": user.username if user else None, "attachments": [], "changes": []}
    for name, content in files:
        a = FollowUpAttachment.objects.create(
            followup=f, file=SimpleUploadedFile(name, content), filename=name,
            mime_type="text/plain", size=len(content))
        entry["attachments"].append({"id": a.id, "filename": name, "path": a.file.name,
                                     "sha256": hashlib.sha256(content).hexdigest()})
    for field, old, new in changes:
        TicketChange.objects.create(followup=f, field=field, old_value=old, new_value=new)
        entry["changes"].append([field, old, new])
    manifest["tickets"][key]["followups"].append(entry)
    return f


def opened(key, t, user=None):
    return followup(key, t, at=t._created, comment=t.description, user=user,
                    title="Ticket Opened")


# 1. Open, unassigned, from an e-mail-only customer, a reply by mail with a log file.
t1 = ticket("new_by_mail", "VPN drops every 10 minutes", support, submitter="bob@acme.example",
            description="Since Monday the VPN client disconnects every ten minutes.",
            created=ago(hours=30), priority=2)
opened("new_by_mail", t1)
followup("new_by_mail", t1, at=ago(hours=29), title="E-Mail Received from bob@acme.example",
         comment="Here is the client log.", files=[("vpn-client.log", b"12:00 tunnel down\n")])
TicketCustomFieldValue.objects.create(ticket=t1, field=tier, value="Gold")
TicketCustomFieldValue.objects.create(ticket=t1, field=os_field, value="Linux")

# 2. Assigned and in progress: a public answer, an internal note with logged time.
t2 = ticket("in_progress", "Export to CSV times out", support, submitter="alice@acme.example",
            description="Exporting 50k rows to CSV fails after 30 s.", created=ago(hours=20),
            assigned=sam)
opened("in_progress", t2, user=alice)
followup("in_progress", t2, at=ago(hours=19), user=sam, title="Updated",
         comment="Grüße — we can reproduce it ✓. A fix is on its way.",
         changes=[("Owner", "", "sam")])
followup("in_progress", t2, at=ago(hours=18), user=sam, public=False,
         comment="Internal: the export query lacks an index.", time_spent=timedelta(minutes=25))

# 3. Resolved yesterday.
t3 = ticket("resolved", "Invoice address wrong", billing, submitter="alice@acme.example",
            description="Please change our invoice address.", created=ago(days=2), status=3,
            assigned=kim)
opened("resolved", t3, user=alice)
followup("resolved", t3, at=ago(days=1), user=kim, title="Resolved", new_status=3,
         comment="Done: the address is updated.", changes=[("Status", "Open", "Resolved")])

# 4. Resolved sixty days ago: this product would have closed it four days later.
t4 = ticket("resolved_long_ago", "Password reset mail missing", support,
            submitter="carol@gmail.com", description="No reset e-mail arrives.",
            created=ago(days=61), status=3, assigned=sam)
opened("resolved_long_ago", t4)
followup("resolved_long_ago", t4, at=ago(days=60), user=sam, title="Resolved", new_status=3,
         comment="It was in the spam folder.")

# 5. Closed after being resolved.
t5 = ticket("closed", "Feature request: dark mode", support, submitter="dave@initech.example",
            description="Would love a dark mode.", created=ago(days=30), status=4, priority=5)
opened("closed", t5)
followup("closed", t5, at=ago(days=29), user=kim, title="Resolved", new_status=3,
         comment="Added to the roadmap.")
followup("closed", t5, at=ago(days=20), user=kim, title="Closed", new_status=4, comment="")

# 6. A duplicate of 1.
t6 = ticket("duplicate", "VPN keeps disconnecting", support, submitter="bob@acme.example",
            description="Same VPN problem.", created=ago(hours=28), status=5)
t6.merged_to = t1
t6.save()
opened("duplicate", t6)
followup("duplicate", t6, at=ago(hours=27), user=sam, title="Duplicate", new_status=5,
         comment="Merged into the first report.")

# 7. Reopened, on hold.
t7 = ticket("on_hold", "SSO login loop", support, submitter="alice@acme.example",
            description="Okta sends us in a loop.", created=ago(days=5), status=2, assigned=kim,
            on_hold=True)
opened("on_hold", t7, user=alice)
followup("on_hold", t7, at=ago(days=4), user=kim, title="Resolved", new_status=3,
         comment="Clock skew on your IdP; please check.")
followup("on_hold", t7, at=ago(days=3), user=alice, title="Reopened", new_status=2,
         comment="Still looping after fixing the clock.")
followup("on_hold", t7, at=ago(days=3, hours=-1), user=kim, public=False,
         comment="Waiting on Okta support.")

# 8. Urgent, open for ten days, with CCs and a due date: its SLA levels all passed.
t8 = ticket("overdue", "Production API returns 500", support, submitter="alice@acme.example",
            description="All calls to /v2/orders fail.", created=ago(days=10), priority=1,
            assigned=sam, due=ago(days=9))
opened("overdue", t8, user=alice)
TicketCC.objects.create(ticket=t8, user=dave, can_view=True)
TicketCC.objects.create(ticket=t8, email="zed@globex.example", can_view=True)
TicketDependency.objects.create(ticket=t8, depends_on=t2)

# 9. An attachment whose file is gone from disk.
t9 = ticket("missing_file", "Screenshot of the error", support, submitter="bob@acme.example",
            description="See the screenshot.", created=ago(days=1))
f9 = opened("missing_file", t9)
followup("missing_file", t9, at=ago(hours=23), title="E-Mail Received from bob@acme.example",
         comment="Second try with the file.", files=[("screen.txt", b"pretend png")])

# 10. Billing, by a user whose address has capitals.
t10 = ticket("billing", "Refund for March", billing, submitter="dave@initech.example",
             description="We were billed twice in March.", created=ago(days=3), assigned=kim)
opened("billing", t10, user=dave)

# 11. Will get a broken queue reference (the test breaks it with plain SQL).
t11 = ticket("broken_queue", "Ticket of a deleted queue", support, submitter="bob@acme.example",
             description="Orphan.", created=ago(days=1))

# Knowledge base: a public category with two items (one disabled), an internal one.
faq = KBCategory.objects.create(name="faq", title="Getting started", slug="getting-started",
                                description="First steps", public=True)
runbooks = KBCategory.objects.create(name="runbooks", title="Runbooks", slug="runbooks",
                                     description="Internal procedures", public=False)
kb1 = KBItem.objects.create(category=faq, title="How do I reset my password?",
                            question="I forgot my password.",
                            answer="Use **Forgot password** on the sign-in page.",
                            votes=10, recommendations=8, last_updated=ago(days=100))
kb2 = KBItem.objects.create(category=faq, title="Old VPN client", question="Old client",
                            answer="Retired.", enabled=False, last_updated=ago(days=300))
kb3 = KBItem.objects.create(category=runbooks, title="Rotate the VPN certificate",
                            question="Rotate the VPN certificate",
                            answer="1. Generate\n2. Upload", last_updated=ago(days=20))
for key, item in (("reset", kb1), ("retired", kb2), ("runbook", kb3)):
    manifest["kb"][key] = {"id": item.id, "title": item.title, "answer": item.answer,
                           "updated": item.last_updated.isoformat()}

# Fix the times django-helpdesk stamps with "now" (auto_now fields, follow-up saves).
for key, data in manifest["tickets"].items():
    t = Ticket.objects.get(pk=data["id"])
    last = max([datetime.fromisoformat(f["date"]) for f in data["followups"]]
               + [datetime.fromisoformat(data["created"])])
    Ticket.objects.filter(pk=t.pk).update(created=datetime.fromisoformat(data["created"]),
                                          modified=last)
    data["modified"] = last.isoformat()

with open(sys.argv[1], "w") as handle:
    json.dump(manifest, handle, indent=1)
