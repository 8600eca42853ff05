"""End to end in a real browser: an admin adds a custom field and a ticket form, a customer
fills it in the portal (htmx swaps the form in as the category is picked), an agent sees
the value and filters the queue by it."""
import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_user
from tickets.models import Category, CustomField, Ticket, TicketForm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def watch_console(page):
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))


def csp_problems(page):
    return [m for m in page.console_messages if "Content Security Policy" in m]


def test_admin_field_and_form_customer_fills_agent_filters(live_server, page_factory, settings,
                                                           org_a, l1):
    settings.HELPDESK_2FA_REQUIRED_ROLES = []  # two-factor sign-in has its own tests
    make_user(Role.ADMIN, username="ada", first_name="Ada")
    make_user(Role.CUSTOMER, org=org_a, username="carla", first_name="Carla")
    make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    Category.objects.create(name="Licensing", slug="licensing")
    base = live_server.url

    # The admin defines a drop-down field customers fill, then a form for "Licensing".
    admin = page_factory()
    log_in(admin, base, "ada")
    admin.goto(f"{base}/admin/tickets/customfield/add/")
    admin.get_by_label("Label:").fill("License plan")
    admin.get_by_label("Key:").fill("license_plan")
    admin.get_by_label("Field type:").select_option("dropdown")
    admin.get_by_label("Choices:").fill('["Team", "Business"]')
    admin.get_by_label("Customer visible").check()
    admin.get_by_label("Customer editable").check()
    admin.get_by_label("Show in queue").check()
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")
    assert CustomField.objects.get(key="license_plan").choices == ["Team", "Business"]

    admin.goto(f"{base}/admin/tickets/ticketform/add/")
    admin.get_by_label("Name:").fill("Licensing form")
    admin.get_by_label("Category:").select_option(label="Licensing")
    admin.locator("select[name='items-0-field']").select_option(label="License plan")
    admin.locator("input[name='items-0-required']").check()
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")
    assert TicketForm.objects.get().items.get().required

    # The customer picks the category: the form's field appears, and is required.
    customer = page_factory()
    watch_console(customer)
    log_in(customer, base, "carla")
    customer.goto(f"{base}/portal/tickets/new/")
    # No category yet: every field customers may fill, none required.
    plan = customer.locator("select[name='cf_license_plan']")
    expect(plan).to_be_visible()
    expect(customer.locator("select[name='cf_license_plan'][required]")).to_have_count(0)
    customer.get_by_label("Subject").fill("Need more seats")
    customer.get_by_label("Description").fill("We hired five people.")
    customer.get_by_label("Category").select_option(label="Licensing")
    expect(customer.locator("select[name='cf_license_plan'][required]")).to_be_visible()
    customer.get_by_role("button", name="Submit request").click()
    expect(customer.locator(".has-error")).to_contain_text("This field is required")
    customer.get_by_label("License plan").select_option("Business")
    customer.get_by_role("button", name="Submit request").click()
    expect(customer.get_by_role("heading", name=re.compile("Need more seats"))).to_be_visible()
    expect(customer.locator(".custom-values")).to_contain_text("Business")
    ticket = Ticket.objects.get(subject="Need more seats")
    assert ticket.custom_fields == {"license_plan": "Business"}
    assert csp_problems(customer) == [] and customer.js_errors == []

    # The agent sees the value on the ticket page, then filters the queue by it.
    agent = page_factory()
    watch_console(agent)
    log_in(agent, base, "arthur")
    agent.goto(f"{base}/agent/tickets/{ticket.pk}/")
    expect(agent.locator("#custom-fields-panel")).to_contain_text("Business")
    agent.goto(f"{base}/agent/queue/open/")
    agent.locator("select[name='cf_license_plan']").select_option("Team")
    agent.get_by_role("button", name="Apply").click()
    expect(agent.locator("#queue-table")).to_contain_text("No tickets match")
    agent.locator("select[name='cf_license_plan']").select_option("Business")
    agent.get_by_role("button", name="Apply").click()
    row = agent.locator(f"#ticket-row-{ticket.pk}")
    expect(row).to_contain_text("Need more seats")
    expect(row).to_contain_text("Business")  # the optional column
    assert csp_problems(agent) == [] and agent.js_errors == []
