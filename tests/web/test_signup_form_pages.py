"""The form builder's pages: the empty state, creating and editing a form (questions,
topics, wording, double opt-in), messages beside the field with nothing saved, the share
panel and the confirmation email's preview."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import SignupForm, Topic
from webapp.services import signup_forms

from .conftest import SIGNUP_FORM
from .pages import field_errors


def make_topic(tenant_id: int, name: str) -> int:
    topic = Topic(tenant_id=tenant_id, name=name)
    db.session.add(topic)
    db.session.commit()
    return topic.id


def forms_count() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(SignupForm))


def test_the_empty_list_says_what_a_form_is_for_and_how_to_make_one(owner_a):
    page = owner_a.get("/forms/").get_data(as_text=True)

    assert "No signup forms yet" in page and "join your mailing list" in page
    assert 'href="/forms/new"' in page


def test_the_list_shows_submissions_and_confirmations(owner_a, tenant_a):
    form = signup_forms.create_form(tenant_a.id, {"name": "Jazz club"})
    form.submissions_count, form.confirmations_count = 1234, 56
    db.session.commit()

    page = owner_a.get("/forms/").get_data(as_text=True)

    assert "Jazz club" in page and "1,234" in page and ">56<" in page
    assert "Double (confirm by email)" in page


def test_a_new_form_starts_from_defaults_in_the_organisations_name(owner_a):
    page = owner_a.get("/forms/new").get_data(as_text=True)

    assert "Confirm your subscription to Arena Alpha" in page
    assert 'id="double_opt_in" name="double_opt_in" type="checkbox" value="y"' in page and "checked" in page


def test_creating_a_form_with_a_question_and_topics(owner_a, tenant_a):
    jazz, rock = make_topic(tenant_a.id, "Jazz listings"), make_topic(tenant_a.id, "Rock listings")

    response = owner_a.post("/forms/new", {
        **SIGNUP_FORM, "name": "Festival news", "first_name": "required",
        "custom-0-label": "Favourite genre", "custom-0-kind": "select", "custom-0-options": "Jazz\nRock\n\n",
        "custom-0-required": "y", f"topic-{jazz}": "ticked", f"topic-{rock}": "unticked"})

    assert response.status_code == 302
    form = db.session.scalar(select(SignupForm))
    assert form.fields == {"first_name": "required", "last_name": "off", "custom": [
        {"key": "favourite_genre", "label": "Favourite genre", "kind": "select", "required": True,
         "options": ["Jazz", "Rock"]}]}
    assert form.topics == [{"id": jazz, "checked": True}, {"id": rock, "checked": False}]
    page = owner_a.get(response.headers["Location"]).get_data(as_text=True)
    assert f"http://crm.test/f/{form.public_id}" in page  # the address, to copy
    assert "&lt;iframe src=" in page and 'data-copy-from="form-snippet"' in page
    assert 'value="ticked" selected' in page


def test_editing_keeps_the_questions_and_removes_one_when_asked(owner_a, tenant_a):
    form = signup_forms.create_form(tenant_a.id, {"name": "News", "fields": {"custom": [
        {"key": "genre", "label": "Genre"}, {"key": "city", "label": "City"}]}})

    owner_a.post(f"/forms/{form.id}", {**SIGNUP_FORM, "custom-0-label": "Genre", "custom-0-key": "genre",
                                       "custom-1-label": "City", "custom-1-key": "city", "custom-1-remove": "y",
                                       "double_opt_in": ""})

    db.session.expire_all()
    stored = db.session.get(SignupForm, form.id)
    assert [spec["key"] for spec in stored.fields["custom"]] == ["genre"]
    assert stored.double_opt_in is False


def test_a_broken_rule_is_shown_beside_its_field_and_nothing_is_saved(owner_a):
    cases = [({"name": ""}, "name", "Give the form a name."),
             ({"custom-0-label": "Genre", "custom-0-kind": "select"}, "custom-0-options",
              "a choice field needs at least one option"),
             ({"custom-0-label": "Genre", "custom-0-key": "genre", "custom-1-label": "Style",
               "custom-1-key": "genre"}, "custom-1-key", "“genre” is used by another field"),
             ({"custom-0-label": "Genre", "custom-0-key": "Not a key!"}, "custom-0-key",
              "1-50 lower-case letters, digits and _, starting with a letter"),
             ({"confirmation_subject": "Hi\r\nBcc: x@example.com"}, "confirmation_subject", "must be one line")]
    for data, name, message in cases:
        response = owner_a.post("/forms/new", {**SIGNUP_FORM, **data})
        assert response.status_code == 422, data
        assert field_errors(response.get_data(as_text=True)).get(name) == [message], (data, name)
    assert forms_count() == 0


def test_another_organisations_topic_cannot_be_offered(owner_a, tenant_b):
    theirs = make_topic(tenant_b.id, "B's news")

    response = owner_a.post("/forms/new", {**SIGNUP_FORM, f"topic-{theirs}": "ticked"})

    assert response.status_code == 302  # unknown to A's page: simply not offered
    assert db.session.scalar(select(SignupForm.topics)) == []


def test_the_email_preview_shows_the_typed_text_escaped(owner_a):
    response = owner_a.hx_post("/forms/preview-email", {**SIGNUP_FORM, "confirmation_subject": "Hi <b>there</b>",
                                                        "confirmation_body": "Line <script>alert(1)</script>"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in page and "<script>alert" not in page
    assert 'sandbox=""' in page
    assert forms_count() == 0


def test_a_viewer_sees_the_editor_but_cannot_save(viewer_a, tenant_a):
    form = signup_forms.create_form(tenant_a.id, {"name": "News"})

    page = viewer_a.get(f"/forms/{form.id}").get_data(as_text=True)

    assert "Save form" not in page
    assert viewer_a.post(f"/forms/{form.id}", {**SIGNUP_FORM, "name": "Changed"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(SignupForm, form.id).name == "News"


def test_deleting_a_form_takes_its_page_down(owner_a, tenant_a, client):
    form = signup_forms.create_form(tenant_a.id, {"name": "News"})
    form_id, public_id = form.id, form.public_id

    response = owner_a.post(f"/forms/{form_id}/delete")

    assert response.status_code == 302 and forms_count() == 0
    assert client.get(f"/f/{public_id}").status_code == 404
