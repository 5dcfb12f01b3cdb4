"""Email templates: the five starters shipped for ticketing, the tenant's own templates and
saved blocks, and campaigns made from them.

  starters  the shipped designs (JSON files in starters/), read once
  library   the tenant's templates and saved blocks; listing with the starters first
  usage     a draft campaign from a template, a template from a campaign

The names callers use are re-exported here: `templates.get_template(...)`.
"""

from webapp.services.templates.library import (
    MAX_PER_TENANT,
    TemplateView,
    create_template,
    delete_block,
    delete_template,
    get_template,
    parse_template_id,
    save_block,
    saved_blocks,
    starter_templates,
    templates_page,
    update_template,
)
from webapp.services.templates.usage import (
    campaign_fields,
    create_campaign_from_template,
    save_campaign_as_template,
)

__all__ = [
    "MAX_PER_TENANT", "TemplateView", "campaign_fields", "create_campaign_from_template",
    "create_template", "delete_block", "delete_template", "get_template", "parse_template_id", "save_block",
    "save_campaign_as_template", "saved_blocks", "starter_templates", "templates_page", "update_template",
]
