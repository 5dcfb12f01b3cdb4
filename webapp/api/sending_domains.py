"""Sending domains over JSON: the domains From addresses may use, and their DNS proof."""

from __future__ import annotations

from flask import jsonify

from webapp.api.auth import current_tenant_id
from webapp.api.blueprint import bp
from webapp.api.registry import api_route
from webapp.api.schemas import PageQuery, SendingDomainIn, SendingDomainOut, SendingDomainPage
from webapp.api.serializers import sending_domain_dict
from webapp.services import sending_domains


@api_route(bp, "/sending-domains", "GET", summary="List sending domains", tag="sending-domains",
           query=PageQuery, response=SendingDomainPage)
def list_sending_domains(query: PageQuery):
    page = sending_domains.domains_page(current_tenant_id(), limit=query.limit, cursor=query.cursor)
    return jsonify({"data": [sending_domain_dict(d) for d in page.items], "next_cursor": page.next_cursor})


@api_route(bp, "/sending-domains", "POST", admin=True,
           summary="Add a sending domain (unverified)", tag="sending-domains",
           body=SendingDomainIn, response=SendingDomainOut, status=201, errors=(409, 422),
           description="From addresses (campaign from_email, the sender in Settings) must be on one of these "
                       "domains, exactly. Add the returned txt_record to DNS, then call verify. A domain "
                       "another organisation has verified (or whose parent it has) is a 409.")
def add_sending_domain(body: SendingDomainIn):
    return jsonify(sending_domain_dict(sending_domains.add_domain(current_tenant_id(), body.domain))), 201


@api_route(bp, "/sending-domains/<int:domain_id>", "GET", summary="Get a sending domain", tag="sending-domains",
           response=SendingDomainOut, errors=(404,))
def get_sending_domain(domain_id: int):
    return jsonify(sending_domain_dict(sending_domains.get_domain(current_tenant_id(), domain_id)))


@api_route(bp, "/sending-domains/<int:domain_id>/verify", "POST", admin=True,
           summary="Check the domain's TXT record now",
           tag="sending-domains", response=SendingDomainOut, errors=(404, 409),
           description="Looks up txt_record in DNS (a few seconds at most). Found: status becomes verified. "
                       "Not found, or DNS unreachable: 200 with status still unverified and the reason in "
                       "last_check_error; unverified domains still send. A domain another organisation "
                       "verified first is a 409.")
def verify_sending_domain(domain_id: int):
    return jsonify(sending_domain_dict(sending_domains.verify_domain(current_tenant_id(), domain_id)))


@api_route(bp, "/sending-domains/<int:domain_id>", "DELETE", admin=True, summary="Remove a sending domain",
           tag="sending-domains", status=204, errors=(404, 409),
           description="A 409 while the sender in Settings or a campaign not sent yet uses it.")
def delete_sending_domain(domain_id: int):
    sending_domains.remove_domain(current_tenant_id(), domain_id)
    return "", 204
